// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mqttctl",
    products: [
        .executable(name: "mqttctl", targets: ["mqttctl"]),
        .library(name: "Mosquitto", targets: ["Mosquitto"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libmosquitto (and the few OpenSSL calls made on its TLS session) as a C module.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev", "libssl-dev"])]
        ),
        // The Swift wrapper: one type owns the `mosquitto *`, an event loop drives it.
        .target(name: "Mosquitto", dependencies: ["CMosquitto"], exclude: ["README.md"]),
        // The command-line tool.
        .executableTarget(
            name: "mqttctl",
            dependencies: [
                "Mosquitto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["Subcommands/README.md", "Jobs/README.md", "Options/README.md", "Output/README.md",
                      "Utilities/README.md", "Probes/README.md", "Fuzzing/README.md"]
        ),
        // Tests run the built `mqttctl` against a real mosquitto they start themselves.
        .testTarget(
            name: "mqttctlTests",
            dependencies: ["Mosquitto", "mqttctl"],
            exclude: ["README.md", "FuzzRegressions"]
        ),
        // Fast tests of the pure parts (rules, state machines, packet readers): no
        // broker, no network, milliseconds (`swift test --filter mqttctlUnitTests`).
        .testTarget(
            name: "mqttctlUnitTests",
            dependencies: ["Mosquitto", "mqttctl"],
            exclude: ["README.md"]
        ),
    ]
)
