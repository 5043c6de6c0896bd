/*
 * Power-cut simulation for the fault tests and the chaos soak (docs/reliability.md, "Power loss").
 *
 * A SIGKILL lets the kernel write out everything the process wrote, so it never loses a write that
 * was not yet fsynced. A power cut does. Preloaded into accordd (LD_PRELOAD), this library keeps an
 * undo log of every write to a file of the watched directory since that file's last fsync or
 * fdatasync: before each write it saves the bytes the write will cover and the file's size. After a
 * SIGKILL, `PowerCut.cut()` (Tests/AccordTestSupport/PowerCut.swift) applies the logs backwards,
 * which leaves each file exactly as it was at its last sync: what a power cut at that instant could
 * leave at worst, short of the file system losing synced data.
 *
 * Environment: ACCORD_POWERCUT_WATCH (the data directory), ACCORD_POWERCUT_UNDO (where the logs go,
 * one `NAME.undo` per file, outside the watched directory).
 *
 * What it covers: the calls through which SQLite and accordd write files (write, pwrite, pwrite64,
 * ftruncate, ftruncate64; fsync, fdatasync; unlink), as far as they go through the dynamic linker:
 * SQLite's and Swift's do; glibc's own stdio calls its write internally, which no preload sees (the
 * library's test writes with dd for that reason). A file's undo log is cleared when the file is
 * synced or unlinked. SQLite's `-shm` wal-index is shared memory, not durable state: it is not
 * logged, and the cut removes it. Not simulated: a file created or renamed but whose directory was
 * never synced vanishing (SQLite syncs the directory where it matters).
 *
 * Each write holds one lock from saving the old bytes until the write is done, and a sync holds it
 * until the sync returns, so a write that races a sync is never forgotten by the sync's clearing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* One undo record: the file's size before the operation, and the bytes it replaced. */
struct undo_record {
    uint64_t offset;
    uint64_t old_size;
    uint64_t old_length; /* followed by this many bytes of old content at offset */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char watched[PATH_MAX];
static char undo_folder[PATH_MAX];
static int active;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_unlink)(const char *);

static void set_up(void) {
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
    const char *watch = getenv("ACCORD_POWERCUT_WATCH");
    const char *undo = getenv("ACCORD_POWERCUT_UNDO");
    if (!watch || !undo || strlen(watch) >= sizeof(watched) || strlen(undo) >= sizeof(undo_folder)) return;
    /* The data directory may not exist yet (accordd creates it): then its path as given. */
    if (!realpath(watch, watched)) strcpy(watched, watch);
    size_t length = strlen(watched);
    while (length > 1 && watched[length - 1] == '/') watched[--length] = 0;
    strcpy(undo_folder, undo);
    active = 1;
}

/* The undo log of `path` if it is a file directly in the watched directory (not the -shm), else 0. */
static int undo_path_of(const char *path, char *undo, size_t size) {
    size_t length = strlen(watched);
    if (strncmp(path, watched, length) != 0 || path[length] != '/') return 0;
    const char *name = path + length + 1;
    if (strchr(name, '/') || !*name) return 0;
    size_t name_length = strlen(name);
    if (name_length > 4 && strcmp(name + name_length - 4, "-shm") == 0) return 0;
    return snprintf(undo, size, "%s/%s.undo", undo_folder, name) < (int)size;
}

/* The undo log of the regular file `fd` refers to, if it is watched. */
static int undo_path_of_fd(int fd, char *undo, size_t size) {
    pthread_once(&once, set_up);
    if (!active) return 0;
    struct stat status;
    if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) return 0;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t length = readlink(link, path, sizeof path - 1);
    if (length <= 0) return 0;
    path[length] = 0;
    return undo_path_of(path, undo, size);
}

/* Reads what `fd` holds at [offset, offset + length), through a second descriptor of the same file
 * if `fd` was opened write-only (as truncate(1) and some writers do). */
static int read_old(int fd, char *buffer, uint64_t length, uint64_t offset) {
    if (pread(fd, buffer, length, (off_t)offset) == (ssize_t)length) return 0;
    if (errno != EBADF) return -1;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    int reader = open(link, O_RDONLY | O_CLOEXEC);
    if (reader < 0) return -1;
    ssize_t got = pread(reader, buffer, length, (off_t)offset);
    close(reader);
    return got == (ssize_t)length ? 0 : -1;
}

/* Appends what [offset, offset + length) of `fd` holds now, and its size, to the undo log. */
static void save(int fd, const char *undo, uint64_t offset, uint64_t length) {
    struct stat status;
    if (fstat(fd, &status) != 0) return;
    uint64_t size = (uint64_t)status.st_size;
    uint64_t old_length = offset >= size ? 0 : (size - offset < length ? size - offset : length);
    int log = open(undo, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0) abort(); /* a write we cannot undo would make the simulation lie */
    struct undo_record record = {offset, size, old_length};
    char *old = old_length ? malloc(old_length) : NULL;
    if (old_length && (!old || read_old(fd, old, old_length, offset) != 0)) abort();
    if (real_write(log, &record, sizeof record) != sizeof record) abort();
    if (old_length && real_write(log, old, old_length) != (ssize_t)old_length) abort();
    free(old);
    close(log);
}

/* pwrite and pwrite64 are the same call on a 64-bit system: both go to the real pwrite64. */
static ssize_t pwrite_logged(int fd, const void *buffer, size_t count, off64_t offset) {
    char undo[PATH_MAX];
    if (!undo_path_of_fd(fd, undo, sizeof undo)) return real_pwrite64(fd, buffer, count, offset);
    pthread_mutex_lock(&lock);
    save(fd, undo, (uint64_t)offset, count);
    ssize_t written = real_pwrite64(fd, buffer, count, offset);
    pthread_mutex_unlock(&lock);
    return written;
}

ssize_t pwrite64(int fd, const void *buffer, size_t count, off64_t offset) { return pwrite_logged(fd, buffer, count, offset); }

ssize_t pwrite(int fd, const void *buffer, size_t count, off_t offset) { return pwrite_logged(fd, buffer, count, (off64_t)offset); }

ssize_t write(int fd, const void *buffer, size_t count) {
    char undo[PATH_MAX];
    if (!undo_path_of_fd(fd, undo, sizeof undo)) return real_write(fd, buffer, count);
    pthread_mutex_lock(&lock);
    int flags = fcntl(fd, F_GETFL);
    struct stat status;
    off_t position = (flags >= 0 && (flags & O_APPEND) && fstat(fd, &status) == 0) ? status.st_size : lseek(fd, 0, SEEK_CUR);
    if (position >= 0) save(fd, undo, (uint64_t)position, count);
    ssize_t written = real_write(fd, buffer, count);
    pthread_mutex_unlock(&lock);
    return written;
}

static int truncate_logged(int fd, uint64_t length, int (*truncate)(int, off64_t)) {
    char undo[PATH_MAX];
    if (!undo_path_of_fd(fd, undo, sizeof undo)) return truncate(fd, (off64_t)length);
    pthread_mutex_lock(&lock);
    save(fd, undo, length, UINT64_MAX / 2);
    int result = truncate(fd, (off64_t)length);
    pthread_mutex_unlock(&lock);
    return result;
}

static int truncate64_through_real(int fd, off64_t length) { return real_ftruncate64(fd, length); }
static int truncate_through_real(int fd, off64_t length) { return real_ftruncate(fd, (off_t)length); }

int ftruncate64(int fd, off64_t length) {
    pthread_once(&once, set_up);
    return truncate_logged(fd, (uint64_t)length, truncate64_through_real);
}

int ftruncate(int fd, off_t length) {
    pthread_once(&once, set_up);
    return truncate_logged(fd, (uint64_t)length, truncate_through_real);
}

/* A successful sync makes everything written to the file so far durable: its undo log is cleared. */
static int sync_logged(int fd, int (*sync)(int)) {
    char undo[PATH_MAX];
    if (!undo_path_of_fd(fd, undo, sizeof undo)) return sync(fd);
    pthread_mutex_lock(&lock);
    int result = sync(fd);
    if (result == 0) {
        int saved = errno;
        if (real_unlink(undo) != 0 && errno != ENOENT) abort();
        errno = saved;
    }
    pthread_mutex_unlock(&lock);
    return result;
}

int fsync(int fd) {
    pthread_once(&once, set_up);
    return sync_logged(fd, real_fsync);
}

int fdatasync(int fd) {
    pthread_once(&once, set_up);
    return sync_logged(fd, real_fdatasync);
}

/* An unlinked file's log would otherwise be applied to a later file of the same name. */
int unlink(const char *path) {
    pthread_once(&once, set_up);
    char resolved[PATH_MAX], undo[PATH_MAX];
    if (!active || !realpath(path, resolved) || !undo_path_of(resolved, undo, sizeof undo)) return real_unlink(path);
    pthread_mutex_lock(&lock);
    int result = real_unlink(path);
    if (result == 0) {
        int saved = errno;
        real_unlink(undo);
        errno = saved;
    }
    pthread_mutex_unlock(&lock);
    return result;
}
