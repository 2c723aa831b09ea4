import Foundation
import Testing

/// `-o FILE` on every subcommand, and the drop-in mode: mqttctl run as
/// mosquitto_pub/mosquitto_sub/mosquitto_rr through a symlink, with that
/// client's options file, next to the real clients.
@Suite struct OptionsFileTests {
    @Test func everySubcommandReadsAnOptionsFile() throws {
        let broker = try TestBroker.standard()
        let scratch = try ScratchDirectory()
        let file = try scratch.write("broker", "# where\n-h 127.0.0.1\n--port \(broker.port)\n")
        let topic = uniqueTopic()
        let pub = try mqttctl(["pub", "-o", file, "-t", topic, "-m", "kept", "-r", "-q", "1"])
        #expect(pub.status == 0, "\(pub)")
        defer { _ = try? mqttctl(["pub", "-o", file, "-t", topic, "-r", "-n"]) }
        let sub = try mqttctl(["sub", "-o", file, "-t", topic, "-C", "1", "-W", "10"])
        #expect(sub.status == 0 && sub.stdout == "kept\n", "\(sub)")
        // rr reaches the broker (no responder: -W says so, not "cannot connect").
        let rr = try mqttctl([
            "rr", "--options-file", file, "-t", "\(topic)/req", "-e", "\(topic)/none", "-m", "x", "-W", "1",
        ])
        #expect(rr.status == 27, "\(rr)")
        let ping = try mqttctl(["ping", "-o", file, "-C", "1", "--json"])
        #expect(ping.status == 0, "\(ping)")
        let conn = try mqttctl(["conn", "-o", file])
        #expect(conn.status == 0, "\(conn)")
        let probe = try mqttctl(["probe", "takeover", "-o", file, "--json"])
        #expect(probe.status == 0, "\(probe)")
    }

    @Test func anyOptionAndTheCommandLineWins() throws {
        let broker = try TestBroker.standard()
        let scratch = try ScratchDirectory()
        let topic = uniqueTopic()
        let subFile = try scratch.write(
            "sub", "-h 127.0.0.1\n-p \(broker.port)\n-t \(topic)/a\n-F %t %p %P\n-q 1\n-V 5\n")
        let sub = try startSubscriber(["-o", subFile, "-t", "\(topic)/b", "-C", "3", "-W", "20"])
        // A value with spaces, one starting with '-', -D with a value of several words.
        let pubFile = try scratch.write(
            "pub",
            "-h 127.0.0.1\n-p \(broker.port)\n-V 5\n-q 1\n-m from the file\n-D publish user-property origin my ci job\n"
        )
        for (subtopic, extra) in [("a", []), ("b", ["-m", "-5"]), ("a", ["-m", "command line"])] {
            let pub = try mqttctl(["pub", "-o", pubFile, "-t", "\(topic)/\(subtopic)"] + extra)
            #expect(pub.status == 0, "\(pub)")
        }
        let result = sub.wait(timeout: 20)
        #expect(result.status == 0, "\(result)")
        // sub's -t adds up (file and command line), as in mosquitto's options files; -m is the command line's.
        #expect(
            result.stdoutLines == [
                "\(topic)/a from the file origin:my ci job", "\(topic)/b -5 origin:my ci job",
                "\(topic)/a command line origin:my ci job",
            ], "\(result)")
    }

    @Test func aPasswordGivenAnotherWayReplacesTheFiles() throws {
        let broker = try SecureBrokers.passwords()
        let scratch = try ScratchDirectory()
        let file = try scratch.write(
            "creds", "-h 127.0.0.1\n-p \(broker.port)\n-u \(SecureBrokers.username)\n-P wrong\n")
        let passwordFile = try scratch.write("pw", "\(SecureBrokers.password)\n")
        let wrong = try mqttctl(["pub", "-o", file, "-t", uniqueTopic(), "-m", "x"])
        #expect(wrong.status == 5, "\(wrong)")
        let right = try mqttctl(["pub", "-o", file, "--password-file", passwordFile, "-t", uniqueTopic(), "-m", "x"])
        #expect(right.status == 0, "\(right)")
        let open = try scratch.write("open", "-P secret\n", mode: 0o644)
        let refused = try mqttctl(["pub", "-o", open, "-t", "t", "-m", "x"])
        #expect(refused.status == 2 && refused.stderr.contains("readable by other users"), "\(refused)")
    }

    @Test(arguments: [
        ("-p 1883\n-q 7\n", ":2: -q 7: QoS must be 0, 1 or 2"),
        ("--bogus\n", ":1: unknown option '--bogus'"),
        ("-m\n", ":1: '-m' needs a value"),
        ("-r yes\n", ":1: '-r' takes no value"),
        ("-o other\n", ":1: an options file cannot name another"),
        (
            "\n\n--random-filter 500\n",
            ":3: the value '500' is invalid for '--random-filter <chance>': use a percentage from 0.1 to 100"
        ),
        ("topic\n", ":1: expected an option"),
        (
            "-D publish user-property k\n",
            ":1: '-D publish user-property k' needs a command, a property name and a key and a value"
        ),
    ])
    func badLinesNameTheFileAndLine(text: String, message: String) throws {
        let scratch = try ScratchDirectory()
        let file = try scratch.write("options", text)
        let command = text.contains("random-filter") ? ["sub", "-t", "a"] : ["pub", "-t", "a", "-m", "x"]
        let result = try mqttctl(command + ["-o", file])
        #expect(result.status == 2, "\(result)")
        #expect(
            result.stderrLines.count == 1 && result.stderr.contains("mqttctl: error: \(file)\(message)"), "\(result)")
        let missing = try mqttctl(["pub", "-t", "a", "-m", "x", "-o", file + ".none"])
        #expect(missing.status == 2 && missing.stderr.contains("cannot read the options file"), "\(missing)")
    }

    // MARK: Drop-in mode

    /// A directory with mosquitto_pub/_sub/_rr linked to mqttctl, as `make install-compat` makes it.
    func compatDirectory(_ scratch: ScratchDirectory) throws -> String {
        let directory = scratch.url.appendingPathComponent("compat")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for client in ["mosquitto_pub", "mosquitto_sub", "mosquitto_rr"] {
            try FileManager.default.createSymbolicLink(
                atPath: directory.appendingPathComponent(client).path, withDestinationPath: mqttctlPath())
        }
        return directory.path
    }

    /// The same script, with options files for mosquitto_pub and mosquitto_sub,
    /// prints the same with the real clients and with the drop-in links first on PATH.
    @Test func aScriptWithOptionsFilesRunsTheSameOnTheDropInLinks() throws {
        let broker = try TestBroker.standard()
        let scratch = try ScratchDirectory()
        let compat = try compatDirectory(scratch)
        try scratch.write("xdg/mosquitto_pub", "# our broker\n-h 127.0.0.1\n-p \(broker.port)\n-q 1\n")
        try scratch.write("xdg/mosquitto_sub", "-h 127.0.0.1\n-p \(broker.port)\n-F %t = %p\n")
        let script = """
            set -eu
            T="$1"
            mosquitto_pub -t "$T/a" -m one -r
            mosquitto_pub -t "$T/b" -m "two words" -r
            mosquitto_sub -t "$T/#" -C 2 -W 10 | sort
            mosquitto_sub -t "$T/#" -C 2 -W 10 -F '%t|%p|%r' | sort
            mosquitto_pub -t "$T/a" -r -n
            mosquitto_pub -t "$T/b" -r -n
            echo done
            """
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let xdg = scratch.url.appendingPathComponent("xdg").path
        let real = try runProgram(
            "/bin/bash", ["-c", script, "sh", uniqueTopic() + "/real"],
            environment: ["XDG_CONFIG_HOME": xdg, "PATH": path])
        let dropIn = try runProgram(
            "/bin/bash", ["-c", script, "sh", uniqueTopic() + "/dropin"],
            environment: ["XDG_CONFIG_HOME": xdg, "PATH": "\(compat):\(path)"])
        #expect(real.status == 0 && dropIn.status == 0, "\(real)\n\(dropIn)")
        func normalised(_ text: String) -> String {
            text.replacingOccurrences(
                of: #"test/[A-Za-z]+/[0-9A-F]{8}/(real|dropin)"#, with: "T", options: .regularExpression)
        }
        #expect(
            normalised(dropIn.stdout) == normalised(real.stdout), "drop-in:\n\(dropIn.stdout)\nreal:\n\(real.stdout)")
        #expect(
            normalised(dropIn.stdout) == "T/a = one\nT/b = two words\nT/a|one|1\nT/b|two words|1\ndone\n", "\(dropIn)")
    }

    @Test func theDropInTakesExactlyTheClientsOptions() throws {
        let broker = try TestBroker.standard()
        let scratch = try ScratchDirectory()
        let compat = try compatDirectory(scratch)
        // No options file here: ~/.config is used when XDG_CONFIG_HOME is not set.
        try scratch.write("home/.config/mosquitto_rr", "-h 127.0.0.1\n-p \(broker.port)\n")
        let environment = ["HOME": scratch.url.appendingPathComponent("home").path]
        func run(_ client: String, _ arguments: [String]) throws -> RunResult {
            var env = environment
            env["XDG_CONFIG_HOME"] = nil
            return try RunningCommand(
                arguments, environment: env, executable: "\(compat)/\(client)", unsetting: ["XDG_CONFIG_HOME"]
            ).wait(timeout: 30)
        }
        let rr = try run(
            "mosquitto_rr", ["-t", "\(uniqueTopic())/req", "-e", "\(uniqueTopic())/resp", "-m", "x", "-W", "1"])
        #expect(rr.status == 27, "\(rr)")
        // As mosquitto_rr: no correlation, so the first message on the response topic is the response.
        let topic = uniqueTopic()
        let retained = try mqttctl([
            "pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/resp", "-m", "any answer", "-r",
        ])
        #expect(retained.status == 0, "\(retained)")
        defer {
            _ = try? mqttctl(["pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/resp", "-r", "-n"])
        }
        let answered = try run("mosquitto_rr", ["-t", "\(topic)/req", "-e", "\(topic)/resp", "-m", "x", "-W", "10"])
        #expect(answered.status == 0 && answered.stdout == "any answer\n", "\(answered)")
        let theirs = try runProgram(
            "/usr/bin/mosquitto_rr",
            [
                "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/req", "-e", "\(topic)/resp", "-m", "x", "-W",
                "10",
            ])
        #expect(theirs.stdout == answered.stdout, "\(theirs)")
        for (client, option) in [
            ("mosquitto_pub", "--json"), ("mosquitto_sub", "-l"), ("mosquitto_rr", "-C"), ("mosquitto_pub", "-o"),
        ] {
            let result = try run(client, [option, "1", "-t", "t"])
            #expect(result.status == 2, "\(result)")
            #expect(
                result.stderrLines.count == 1 && result.stderr.contains("\(client) has no option '\(option)'"),
                "\(result)")
        }
        // A usage error points at the client's help.
        let bad = try run("mosquitto_sub", ["-t", "t", "-q", "3"])
        #expect(bad.status == 2 && bad.stderr.contains("(see 'mosquitto_sub --help')"), "\(bad)")
        // mqttctl's own config file and MQTTCTL_* do not apply to the drop-in.
        try scratch.write("home/.config/mqttctl/config", "-p 1\n")
        let unaffected = try run("mosquitto_rr", ["-t", "a", "-e", "b", "-m", "x", "-W", "1"])
        #expect(unaffected.status == 27, "\(unaffected)")
    }
}
