// swift-tools-version:6.1
import PackageDescription

/// Every Swift target is built in the Swift 6 language mode (complete strict concurrency checking)
/// with the upcoming features below, set in one place so that no target drifts.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Accord",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AccordModel", targets: ["AccordModel"]),
        .library(name: "AccordCrypto", targets: ["AccordCrypto"]),
        .library(name: "AccordStore", targets: ["AccordStore"]),
        .library(name: "AccordTLS", targets: ["AccordTLS"]),
        .library(name: "AccordSync", targets: ["AccordSync"]),
        .library(name: "AccordDaemon", targets: ["AccordDaemon"]),
        .executable(name: "accordd", targets: ["accordd"]),
        .executable(name: "accordctl", targets: ["accordctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // HTTP for the admin API and the web console. No traits: neither swift-configuration nor
        // the FullFoundation extras are used.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // Hummingbird's own: the HTTP types its requests and responses are made of.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // The system OpenSSL (Debian's libssl-dev): libssl and libcrypto, never a bundled copy.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // `static inline` wrappers for the OpenSSL macros Swift cannot import.
        .target(name: "COpenSSLShim", dependencies: ["COpenSSL"]),
        .target(name: "AccordCrypto", dependencies: ["COpenSSL", "COpenSSLShim"]),
        .target(name: "AccordModel", dependencies: ["AccordCrypto"]),
        // People: ID tokens checked against an identity provider's keys, roles. Pure: no I/O.
        .target(name: "AccordPeople", dependencies: ["AccordCrypto"]),
        // The system SQLite (Debian's libsqlite3-dev), used through its C API.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Its locks are NIOLockedValueBox (a pthread mutex ThreadSanitizer sees), as everywhere here.
        .target(name: "AccordStore", dependencies: ["AccordModel", "AccordCrypto", "CSQLite", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),

        // Mutual TLS 1.3 for SwiftNIO on the system OpenSSL.
        .target(
            name: "AccordTLS",
            dependencies: [
                "COpenSSL", "COpenSSLShim", "AccordCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),

        // The process-wide log of refused input (peers, connections, requests): the first of each
        // reason in full, a flood as one summary line per reason and interval.
        .target(
            name: "AccordRefusals",
            dependencies: [.product(name: "Logging", package: "swift-log"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),

        // Peer sync: the protocol (docs/protocol.md), sessions, reconciliation, live push, relay.
        .target(
            name: "AccordSync",
            dependencies: [
                "AccordModel", "AccordCrypto", "AccordTLS", "AccordStore", "AccordRefusals",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The admin API's requests and responses: what accordd serves and accordctl reads.
        .target(name: "AccordAdminAPI"),

        // The daemon as a library: configuration, the admin API server, metrics, the service.
        .target(
            name: "AccordDaemon",
            dependencies: [
                "AccordAdminAPI", "AccordSync", "AccordStore", "AccordModel", "AccordCrypto", "AccordTLS", "AccordRefusals", "AccordPeople",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            // docs/openapi.json (a link to it), compiled in: served at GET /v1/openapi.json.
            resources: [.embedInCode("Resources/openapi.json")]
        ),
        .executableTarget(
            name: "accordd",
            dependencies: [
                "AccordDaemon", "AccordStore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "accordctl",
            dependencies: [
                "AccordAdminAPI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // Fixtures shared by the test targets: test networks of nodes, seeded random histories, a
        // fault-injecting TCP proxy, a hostile peer, certificates, ports and waiting.
        .target(
            name: "AccordTestSupport",
            dependencies: [
                "AccordModel", "AccordCrypto", "AccordTLS", "AccordSync", "AccordAdminAPI",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/AccordTestSupport"
        ),

        // Benchmarks: executables that print a table and write JSON (see BENCHMARKS.md).
        .executableTarget(
            name: "accord-store-bench", dependencies: ["AccordStore", "AccordModel", "AccordCrypto", "CSQLite", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            path: "Benchmarks/AccordStoreBenchmark"
        ),

        .executableTarget(
            name: "accord-tls-bench",
            dependencies: [
                "AccordTLS", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/AccordTLSBenchmark"
        ),

        .executableTarget(
            name: "accord-bench",
            dependencies: [
                "AccordSync", "AccordStore", "AccordModel", "AccordCrypto", "AccordTLS", "AccordAdminAPI", "AccordTestSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/AccordSyncBenchmark"
        ),

        // Writes to a store until killed; the crash-safety test SIGKILLs it (see its header).
        .executableTarget(
            name: "accord-store-crash-helper", dependencies: ["AccordStore", "AccordModel", "AccordCrypto"],
            path: "Tests/AccordStoreCrashHelper"
        ),

        // The chaos soak: real accordd processes behind fault proxies, kills, then every promise checked.
        .executableTarget(
            name: "accord-chaos",
            dependencies: [
                "AccordAdminAPI", "AccordTestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tests/Chaos"
        ),

        // An attacker in a process of its own, for the attack tests (HostileNetworkTests).
        .executableTarget(
            name: "accord-hostile-peer",
            dependencies: [
                "AccordSync", "AccordModel", "AccordCrypto", "AccordTLS", "AccordTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/HostilePeer"
        ),

        // libFuzzer targets (docs/reliability.md): built only with -sanitize=fuzzer (scripts/fuzz.sh).
        .executableTarget(
            name: "accord-fuzz",
            dependencies: [
                "AccordSync", "AccordModel", "AccordCrypto", "AccordDaemon", "AccordTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/Fuzz",
            exclude: ["Corpus"],
            // Its entry point is the function SwiftPM renames `main` to, defined by hand.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),

        .testTarget(name: "AccordCryptoTests", dependencies: ["AccordCrypto", "AccordTestSupport"]),
        .testTarget(name: "AccordPeopleTests", dependencies: ["AccordPeople", "AccordCrypto", "AccordModel", "AccordTestSupport"]),
        .testTarget(
            name: "AccordDaemonTests",
            dependencies: [
                "AccordDaemon", "AccordAdminAPI", "AccordModel", "AccordCrypto", "AccordStore", "AccordSync", "AccordTLS", "AccordTestSupport",
                "AccordPeople", "accordd", "accordctl", "accord-hostile-peer",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AccordSyncTests",
            dependencies: [
                "AccordSync", "AccordModel", "AccordCrypto", "AccordStore", "AccordTLS", "AccordRefusals", "AccordTestSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AccordTLSTests",
            dependencies: [
                "AccordTLS", "AccordCrypto", "AccordTestSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "AccordModelTests", dependencies: ["AccordModel", "AccordCrypto", "AccordTestSupport"]),
        .testTarget(
            name: "AccordStoreTests",
            dependencies: ["AccordStore", "AccordModel", "AccordCrypto", "AccordTestSupport", "accord-store-crash-helper"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system && target.name.hasPrefix("C") == false {
    target.swiftSettings = (target.swiftSettings ?? []) + strictSettings
}
