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

        .testTarget(name: "AccordCryptoTests", dependencies: ["AccordCrypto"]),
        .testTarget(name: "AccordModelTests", dependencies: ["AccordModel", "AccordCrypto"]),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system && target.name.hasPrefix("C") == false {
    target.swiftSettings = (target.swiftSettings ?? []) + strictSettings
}
