// swift-tools-version:6.0
//
// FedMail: cross-organization mail encryption for Postfix and Sendmail.
// Layering as the code has it (dependencies point down only):
//
//   executables  fedmail-milter   fedmail-broker   fedmailctl
//   apps         MilterApp (seal/open pipelines)   Broker (routes, CA, store)
//   services     FederationProtocol  BrokerClient  BrokerStore  Scanner  Reinjection
//   crypto       FedMailCrypto (CMS/S-MIME over OpenSSL 3; `internal import COpenSSL`)
//   core         FedMailCore  (pure decisions, imports nothing)
//   bridges      CMilter   COpenSSL   SystemIO   Milter (`internal import CMilter`)
//   testing      MilterTesting (recording message actions + harness; test targets only)
//
// Rules the targets below keep:
// - One PKI rule: FedMailCrypto is CMS/S-MIME over OpenSSL and nothing else.
//   X.509 (CSRs, certificate checks), fingerprints, JOSE token claims and
//   verification, PoP key envelopes and key container validation live once,
//   in FederationProtocol, on swift-certificates / swift-crypto / jwt-kit.
//   It has no HTTP: the broker (Broker) and its clients (BrokerClient) both
//   build on it, and the broker does not link the HTTP client.
// - One key policy (FedMailCore's OrganizationKeyPolicy), one domain rule
//   (FedMailCore's DomainName), one private-key reader (SystemIO's
//   SecretFile), one hex and one RFC 3339 formatter (FedMailCore's Hex and
//   RFC3339): the other modules map their types onto these, never copy them.
// - Every `import` in a target is declared below, and nothing is declared
//   that the target does not import. Modules are imported explicitly where
//   used; nothing is re-exported.
// - The C modules are imported `internal`, so no C type leaks above the
//   bridge and crypto modules.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "FedMail",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fedmail-milter", targets: ["fedmail-milter"]),
        .executable(name: "fedmail-broker", targets: ["fedmail-broker"]),
        .executable(name: "fedmailctl", targets: ["fedmailctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
    ],
    targets: [
        // MARK: bridges
        .systemLibrary(
            name: "CMilter",
            pkgConfig: "milter",
            providers: [.apt(["libmilter-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "SystemIO",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Milter",
            dependencies: ["CMilter", "SystemIO"],
            swiftSettings: swiftSettings
        ),

        // MARK: core
        .target(
            name: "FedMailCore",
            swiftSettings: swiftSettings
        ),

        // MARK: crypto
        .target(
            name: "FedMailCrypto",
            dependencies: ["COpenSSL", "FedMailCore", "SystemIO"],
            swiftSettings: swiftSettings
        ),

        // MARK: services
        .target(
            name: "FederationProtocol",
            dependencies: [
                "FedMailCore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BrokerClient",
            dependencies: [
                "FedMailCore",
                "FederationProtocol",
                "SystemIO",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BrokerStore",
            dependencies: [
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Reinjection",
            dependencies: ["FedMailCore", "SystemIO"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Scanner",
            dependencies: ["FedMailCore", "SystemIO"],
            swiftSettings: swiftSettings
        ),

        // MARK: apps
        .target(
            name: "MilterApp",
            dependencies: [
                "Milter",
                "SystemIO",
                "FedMailCore",
                "FedMailCrypto",
                "FederationProtocol",
                "BrokerClient",
                "Scanner",
                "Reinjection",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Broker",
            dependencies: [
                "FedMailCore",
                "FederationProtocol",
                "BrokerStore",
                "SystemIO",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: testing (linked by test targets only, never by an executable)
        .target(
            name: "MilterTesting",
            dependencies: ["Milter"],
            swiftSettings: swiftSettings
        ),

        // MARK: executables
        .executableTarget(
            name: "fedmail-milter",
            dependencies: ["MilterApp"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fedmail-broker",
            dependencies: [
                "Broker",
                "BrokerStore",
                "FedMailCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fedmailctl",
            dependencies: [
                "SystemIO",
                "FedMailCrypto",
                "FedMailCore",
                "FederationProtocol",
                "BrokerClient",
                "Scanner",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: tests (mirror module names)
        .testTarget(name: "FedMailCoreTests", dependencies: ["FedMailCore"], swiftSettings: swiftSettings),
        .testTarget(name: "SystemIOTests", dependencies: ["SystemIO"], swiftSettings: swiftSettings),
        .testTarget(name: "MilterTests", dependencies: ["Milter", "CMilter", "MilterTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "MilterAppTests",
            dependencies: [
                "MilterApp", "Milter", "MilterTesting", "FedMailCore", "FedMailCrypto", "FederationProtocol", "Broker",
                "BrokerClient",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FedMailCryptoTests",
            dependencies: [
                "FedMailCrypto", "FedMailCore", "COpenSSL", "FederationProtocol",
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FederationProtocolTests",
            dependencies: [
                "FederationProtocol",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BrokerStoreTests",
            dependencies: ["BrokerStore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BrokerTests",
            dependencies: [
                "Broker",
                "BrokerStore",
                "FederationProtocol",
                "FedMailCore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BrokerClientTests",
            dependencies: [
                "BrokerClient",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ReinjectionTests", dependencies: ["Reinjection", "FedMailCore"], swiftSettings: swiftSettings),
        .testTarget(name: "ScannerTests", dependencies: ["Scanner", "FedMailCore"], swiftSettings: swiftSettings),
    ]
)
