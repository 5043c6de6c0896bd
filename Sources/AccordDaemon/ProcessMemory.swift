import Foundation

/// How accordd asks glibc's allocator to keep its resident set near what it uses
/// (the ≤ 100 MB per node target of BENCHMARKS.md). Both calls are looked up at run time: Swift's
/// Glibc module does not import `malloc.h`, and another C library may have neither (then the
/// allocator keeps its defaults and nothing is trimmed).
enum ProcessMemory {
    /// Allocations of at least this many bytes get pages of their own and give them back when
    /// freed. glibc's default threshold starts at 128 KiB but rises to the largest block freed
    /// so far (up to 32 MiB): after a catch-up has freed a few multi-megabyte buffers, later ones
    /// come from the arenas and stay resident. A fixed threshold keeps them out; measured: the
    /// sender's resident set 12 s after a 100,000-agreement catch-up 118 → 72 MB.
    static let ownPagesThreshold: Int32 = 128 * 1024

    /// Fixes the threshold; call once at start. False if this C library cannot.
    static func configureAllocator() -> Bool {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD in glibc's malloc.h
        return mallopt(mmapThreshold, ownPagesThreshold) == 1
    }

    /// Gives memory the allocator holds free back to the system. A catch-up or a burst of reads
    /// frees much of what it allocated, but glibc keeps freed chunks in its per-thread arenas:
    /// without this, the resident set stays near its peak. `malloc_trim` walks the arenas; it
    /// costs a few milliseconds on one core. Nil if this C library has no `malloc_trim`.
    static let returnFreedMemory: (@Sendable () -> Void)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        let trim = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        return { _ = trim(0) }
    }()
}
