// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mqttctl",
    products: [
        .executable(name: "mqttctl", targets: ["mqttctl"]),
        .library(name: "Mosquitto", targets: ["Mosquitto"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // libmosquitto (and the few OpenSSL calls made on its TLS session) as a C module.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev", "libssl-dev"])]
        ),
        // MQTT over WebSocket: thin C glue around Debian's libwebsockets 4.1, loaded
        // with dlopen only when a ws:// or wss:// connection is made (its header
        // exposes no libwebsockets type; libwebsockets-dev is needed to build).
        .target(
            name: "CWebSocketBridge",
            dependencies: ["CMosquitto"],
            exclude: ["README.md"],
            // DWARF 4, as swiftc writes it: clang's default DWARF 5 stops bookworm's
            // valgrind 3.19 ("unhandled dwarf2 abbrev form"), which the start-up checks use.
            cSettings: [.unsafeFlags(["-gdwarf-4"])],
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        // The Swift wrapper: one type owns the `mosquitto *`, an event loop drives it.
        .target(name: "Mosquitto", dependencies: ["CMosquitto", "CWebSocketBridge"], exclude: ["README.md"]),
        // libm's functions, loaded with dlopen at their first call (release builds):
        // the Swift runtime references them; a common run of mqttctl calls only
        // ceil, which is computed there.
        .target(
            name: "CMathOnDemand",
            exclude: ["README.md"],
            cSettings: [
                .define("MQTTCTL_MATH_ON_DEMAND", .when(configuration: .release)),
                // -fno-builtin: these are the functions the compiler would call; a
                // section each, so that the start-up layout can place ceil alone.
                .unsafeFlags(["-fno-builtin", "-ffunction-sections", "-gdwarf-4"]),
            ]
        ),
        // What swift-argument-parser uses of FoundationEssentials, which the release build
        // aliases to this module (scripts/build-release) so that the static link leaves
        // FoundationEssentials out; nothing imports it by name.
        .target(name: "ParserFoundation", exclude: ["README.md"]),
        // The command-line tool.
        .executableTarget(
            name: "mqttctl",
            dependencies: [
                "Mosquitto", "CMathOnDemand", "ParserFoundation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: [
                "Subcommands/README.md", "Jobs/README.md", "Options/README.md", "Output/README.md",
                "Utilities/README.md", "Probes/README.md", "Fuzzing/README.md",
            ],
            // Release (the shipped `--static-swift-stdlib` build): libstdc++, which the
            // Swift runtime needs, linked statically rather than loaded at start-up, and
            // libm linked only as needed, its functions loaded at their first call
            // (Sources/CMathOnDemand; scripts/release-libraries says how); and linked by lld with
            // packed relative relocations (DT_RELR, glibc 2.36 or later): the 40,000
            // relocations of the Swift metadata in 8 KB instead of 958 KB read at every
            // start; and with the code that start-up and the common commands execute, and
            // the read-only data they read, laid out together (scripts/startup-order), so
            // that a run maps far fewer pages of the executable; exporting no dynamic
            // symbols (the toolchain exports all 2,300, which every symbol lookup of the
            // loader then hashes against first) and libgcc's unwinder linked in rather
            // than libgcc_s.so loaded (bench/README.md).
            linkerSettings: [
                .unsafeFlags(
                    [
                        "-L", Context.packageDirectory + "/scripts/release-libraries",
                        "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                        "-Xlinker", "--no-export-dynamic", "-Xclang-linker", "-static-libgcc",
                        "-Xlinker", "-T", "-Xlinker",
                        Context.packageDirectory + "/scripts/startup-order/hot-text.ld",
                    ],
                    .when(configuration: .release))
            ]
        ),
        // Tests run the built `mqttctl` against a real mosquitto they start themselves.
        .testTarget(
            name: "mqttctlTests",
            dependencies: ["Mosquitto", "mqttctl"],
            exclude: ["README.md", "FuzzRegressions", "Support/ws_relay.py", "Support/peak_rss.py"]
        ),
        // Fast tests of the pure parts (rules, state machines, packet readers): no
        // broker, no network, milliseconds (`swift test --filter mqttctlUnitTests`).
        .testTarget(
            name: "mqttctlUnitTests",
            dependencies: ["Mosquitto", "mqttctl", "CMathOnDemand", "ParserFoundation"],
            exclude: ["README.md"]
        ),
    ]
)
