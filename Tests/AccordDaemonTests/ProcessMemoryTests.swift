@testable import AccordDaemon
import Testing

/// accordd's allocator settings (BENCHMARKS.md measures what they do to the resident set).
@Suite("Process memory")
struct ProcessMemoryTests {
    @Test("glibc takes the fixed threshold for blocks of their own pages and can return freed memory", .enabled(if: ProcessMemoryTests.isGlibc))
    func glibcTakesTheSettings() {
        #expect(ProcessMemory.configureAllocator())
        #expect(ProcessMemory.returnFreedMemory != nil)
        ProcessMemory.returnFreedMemory?()
    }

    static var isGlibc: Bool {
        #if canImport(Glibc)
            true
        #else
            false
        #endif
    }
}
