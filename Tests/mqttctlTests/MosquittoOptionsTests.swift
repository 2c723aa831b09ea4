import Foundation
import Testing

/// The options mosquitto's clients have beyond the everyday ones: unix sockets,
/// SOCKS5 proxies (a real microsocks), bind address, TCP_NODELAY, --quiet, -S,
/// the OpenSSL engine options, the long spellings --pw and --protocol-version,
/// and sub's --pretty (compared with the real mosquitto_sub), --random-filter, -M.
@Suite struct MosquittoOptionsTests {
    // MARK: --unix

    @Test func pubAndSubOverAUnixSocket() throws {
        let broker = try TestBroker.unixSocket()
        let socket = try #require(broker.socketPath)
        let topic = uniqueTopic()
        let sub = try startSubscriber(["--unix", socket, "-t", topic, "-C", "1", "-q", "1"])
        let pub = try mqttctl(["pub", "--unix", socket, "-t", topic, "-m", "over a unix socket", "-q", "1"])
        #expect(pub.status == 0, "\(pub)")
        let received = sub.wait(timeout: 20)
        #expect(received.status == 0, "\(received)")
        #expect(received.stdout == "over a unix socket\n", "\(received)")
        // mosquitto names the connection by its socket, not by a TCP peer.
        #expect(broker.log.contains("New connection from \(socket)"), "\(broker.log.suffix(2000))")
    }

    @Test func aMissingSocketAndConflictingOptionsAreOneLine() throws {
        let scratch = try ScratchDirectory()
        let missing = try mqttctl([
            "pub", "--unix", scratch.url.appendingPathComponent("none.sock").path, "-t", "t", "-m", "x",
        ])
        #expect(missing.status == 3, "\(missing)")
        #expect(missing.stderrLines.count == 1 && missing.stderr.contains("No such file or directory"), "\(missing)")
        let both = try mqttctl(["pub", "--unix", "/tmp/x.sock", "-h", "127.0.0.1", "-t", "t", "-m", "x"])
        #expect(both.status == 2 && both.stderr.contains("--unix replaces -h, -p and -L"), "\(both)")
        let long = try mqttctl(["pub", "--unix", "/" + String(repeating: "s", count: 120), "-t", "t", "-m", "x"])
        #expect(long.status == 2 && long.stderr.contains("at most 107 bytes"), "\(long)")
    }

    // MARK: --proxy

    @Test func throughASOCKS5Proxy() throws {
        let broker = try TestBroker.standard()
        let proxy = try TestSocks.get()
        let topic = uniqueTopic()
        let sub = try startSubscriber([
            "--proxy", proxy.url, "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "-C", "1", "-q", "1",
        ])
        let pub = try mqttctl([
            "pub", "--proxy", proxy.url, "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "-m", "proxied", "-q",
            "1",
        ])
        #expect(pub.status == 0, "\(pub)")
        let received = sub.wait(timeout: 20)
        #expect(received.stdout == "proxied\n", "\(received)")
        // The proxy made the connections to the broker (two: sub and pub).
        let made = proxy.log.components(separatedBy: "connected to 127.0.0.1:\(broker.port)").count - 1
        #expect(made >= 2, "\(proxy.log)")
    }

    @Test func theProxyResolvesTheBrokersName() throws {
        let broker = try TestBroker.standard()
        let proxy = try TestSocks.get()
        let result = try mqttctl([
            "pub", "--proxy", proxy.url, "-h", "localhost", "-p", "\(broker.port)", "-t", uniqueTopic(), "-m", "x",
        ])
        #expect(result.status == 0, "\(result)")
        #expect(proxy.log.contains("connected to localhost:\(broker.port)"), "\(proxy.log)")
    }

    @Test func proxyCredentialsWithEscapes() throws {
        let broker = try TestBroker.standard()
        let proxy = try TestSocks.get(username: "alice", password: "p@ss:word%")
        let base = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", uniqueTopic(), "-m", "x"]
        let good = try mqttctl(["pub", "--proxy", "socks5h://alice:p%40ss%3Aword%25@127.0.0.1:\(proxy.port)"] + base)
        #expect(good.status == 0, "\(good)")
        let none = try mqttctl(["pub", "--proxy", "socks5h://127.0.0.1:\(proxy.port)"] + base)
        #expect(none.status == 3, "\(none)")
        #expect(none.stderrLines.count == 1 && none.stderr.contains("wants a username and password"), "\(none)")
        let wrong = try mqttctl(["pub", "--proxy", "socks5h://alice:nope@127.0.0.1:\(proxy.port)"] + base)
        #expect(wrong.status == 3, "\(wrong)")
        #expect(wrong.stderr.contains("refused the username or password"), "\(wrong)")
        #expect(!wrong.stderr.contains("nope"), "\(wrong)")
    }

    @Test func proxyFailuresSayWhichSide() throws {
        let proxy = try TestSocks.get()
        let closed = try TestBroker.freePort()
        let noBroker = try mqttctl([
            "pub", "--proxy", proxy.url, "-h", "127.0.0.1", "-p", "\(closed)", "-t", "t", "-m", "x",
        ])
        #expect(noBroker.status == 3, "\(noBroker)")
        #expect(noBroker.stderr.contains("cannot reach 127.0.0.1:\(closed)"), "\(noBroker)")
        let noProxy = try mqttctl(["pub", "--proxy", "socks5h://127.0.0.1:\(closed)", "-t", "t", "-m", "x"])
        #expect(noProxy.status == 3, "\(noProxy)")
        #expect(noProxy.stderr.contains("cannot connect to the SOCKS proxy 127.0.0.1:\(closed)"), "\(noProxy)")
    }

    @Test(arguments: [
        ("socks5://127.0.0.1:1080", "only socks5h://"),
        ("socks5h://127.0.0.1:0", "invalid proxy port '0'"),
        ("socks5h://:1080", "the proxy's host is missing"),
        ("socks5h://u:p%41@host", "only %25, %3A and %40"),
        ("socks5h://host/path", "no path"),
    ])
    func badProxyURLs(url: String, message: String) throws {
        let result = try mqttctl(["pub", "--proxy", url, "-t", "t", "-m", "x"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderrLines.count == 1 && result.stderr.contains(message), "\(result)")
    }

    @Test func tlsThroughTheProxy() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tls()
        let proxy = try TestSocks.get()
        let result = try mqttctl([
            "pub", "--proxy", proxy.url, "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile,
            "-t", uniqueTopic(), "-m", "x", "-q", "1",
        ])
        #expect(result.status == 0, "\(result)")
    }

    /// libmosquitto 2.0.11 sends no CONNECT properties through a SOCKS proxy.
    @Test func connectPropertiesThroughAProxyAreRefused() throws {
        let proxy = try TestSocks.get()
        let result = try mqttctl(["pub", "--proxy", proxy.url, "-V", "5", "-x", "60", "-i", "x", "-t", "t", "-m", "x"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("does not send them through a SOCKS proxy"), "\(result)")
    }

    // MARK: -A, --nodelay

    @Test func bindAddress() throws {
        let broker = try TestBroker.standard()
        let id = "bind-\(UUID().uuidString.prefix(8))"
        let result = try mqttctl([
            "pub", "-A", "127.0.0.2", "-h", "127.0.0.1", "-p", "\(broker.port)", "-i", id, "-t", uniqueTopic(), "-m",
            "x",
        ])
        #expect(result.status == 0, "\(result)")
        #expect(
            waitUntil(timeout: 5) { broker.log.contains("from 127.0.0.2:") && broker.log.contains(id) },
            "\(broker.log.suffix(2000))")
        let foreign = try mqttctl([
            "pub", "-A", "192.0.2.1", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "t", "-m", "x",
        ])
        #expect(foreign.status == 3, "\(foreign)")
        #expect(
            foreign.stderrLines.count == 1 && foreign.stderr.contains("Cannot assign requested address"), "\(foreign)")
    }

    /// What reaches the socket, seen with strace: TCP_NODELAY only with --nodelay.
    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "strace (scripts/setup installs it)"))
    func noDelaySetsTCPNoDelay() throws {
        let broker = try TestBroker.standard()
        let scratch = try ScratchDirectory()
        func trace(_ extra: [String]) throws -> String {
            let out = scratch.url.appendingPathComponent("trace-\(extra.count)").path
            let result = try runProgram(
                "/usr/bin/strace",
                [
                    "-f", "-e", "trace=setsockopt", "-o", out, mqttctlPath(), "pub",
                    "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", uniqueTopic(), "-m", "x",
                ] + extra)
            #expect(result.status == 0, "\(result)")
            return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        }
        let with = try trace(["--nodelay"])
        #expect(with.contains("TCP_NODELAY, [1]"), "\(with)")
        let without = try trace([])
        #expect(!without.contains("TCP_NODELAY"), "\(without)")
    }

    // MARK: --quiet, -S

    @Test func quietPrintsNoRuntimeErrorsButUsageErrors() throws {
        let closed = try TestBroker.freePort()
        let refused = try mqttctl(["pub", "--quiet", "-p", "\(closed)", "-t", "t", "-m", "x"])
        #expect(refused.status == 3, "\(refused)")
        #expect(refused.stderr.isEmpty, "\(refused)")
        let loud = try mqttctl(["pub", "-p", "\(closed)", "-t", "t", "-m", "x"])
        #expect(loud.status == 3 && !loud.stderr.isEmpty, "\(loud)")
        let usage = try mqttctl(["pub", "--quiet", "-q", "3", "-t", "t", "-m", "x"])
        #expect(usage.status == 2 && usage.stderr.contains("QoS must be 0, 1 or 2"), "\(usage)")
        // As mosquitto_pub --quiet: nothing on stderr either, and a failure status.
        let mosquitto = try runProgram("/usr/bin/mosquitto_pub", ["--quiet", "-p", "\(closed)", "-t", "t", "-m", "x"])
        #expect(mosquitto.status != 0 && mosquitto.stderr.isEmpty, "\(mosquitto)")
    }

    @Test func srvIsRefusedInOneLine() throws {
        let result = try mqttctl(["sub", "-S", "-h", "example.org", "-t", "t"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderrLines.count == 1 && result.stderr.contains("built without SRV support"), "\(result)")
    }

    // MARK: OpenSSL engines

    @Test func engineOptions() throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tls()
        let base = [
            "pub", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile, "-t", uniqueTopic(), "-m", "x",
        ]
        let unknown = try mqttctl(base + ["--tls-engine", "no-such-engine"])
        #expect(unknown.status == 2, "\(unknown)")
        #expect(unknown.stderrLines.count == 1 && unknown.stderr.contains("no such engine"), "\(unknown)")
        // mosquitto_pub refuses it too.
        let mosquitto = try runProgram(
            "/usr/bin/mosquitto_pub", Array(base.dropFirst()) + ["--tls-engine", "no-such-engine"])
        #expect(mosquitto.status != 0 && mosquitto.stderr.contains("is no-such-engine a valid engine"), "\(mosquitto)")
        // OpenSSL's 'dynamic' engine exists but holds no keys: the key cannot come from it.
        let keyless = try mqttctl(
            base + [
                "--cert", certs.clientCert, "--key", certs.clientKey, "--tls-engine", "dynamic", "--keyform", "engine",
            ])
        #expect(keyless.status == 6, "\(keyless)")
        #expect(
            keyless.stderrLines.count == 1 && keyless.stderr.contains("the OpenSSL engine 'dynamic' cannot be used"),
            "\(keyless)")
        // --keyform pem is the default form, with any engine.
        let pem = try mqttctl(base + ["--keyform", "PEM", "--cert", certs.clientCert, "--key", certs.clientKey])
        #expect(pem.status == 0, "\(pem)")
        for (extra, message) in [
            (["--keyform", "der", "--cert", certs.clientCert, "--key", certs.clientKey], "use pem"),
            (["--keyform", "pem"], "--keyform needs --key"),
            (
                ["--keyform", "engine", "--cert", certs.clientCert, "--key", certs.clientKey],
                "--keyform engine needs --tls-engine"
            ),
            (["--tls-engine-kpass-sha1", "abc"], "40 hexadecimal digits"),
            (
                ["--tls-engine", "dynamic", "--tls-engine-kpass-sha1", String(repeating: "a", count: 40)],
                "needs --tls-engine and --keyform"
            ),
        ] {
            let result = try mqttctl(base + extra)
            #expect(result.status == 2, "\(extra): \(result)")
            #expect(result.stderrLines.count == 1 && result.stderr.contains(message), "\(extra): \(result)")
        }
    }

    // MARK: --pw, --protocol-version

    @Test func mosquittosLongSpellings() throws {
        let broker = try SecureBrokers.passwords()
        let base = [
            "pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-u", SecureBrokers.username, "-t", uniqueTopic(), "-m",
            "x",
        ]
        let good = try mqttctl(base + ["--pw", SecureBrokers.password, "--protocol-version", "mqttv5"])
        #expect(good.status == 0, "\(good)")
        let wrong = try mqttctl(base + ["--pw", "wrong", "--protocol-version", "311"])
        #expect(wrong.status == 5, "\(wrong)")
        let bad = try mqttctl(base + ["--protocol-version", "4"])
        #expect(
            bad.status == 2
                && bad.stderr.contains(
                    "the value '4' is invalid for '--protocol-version <version>': use mqttv31, mqttv311 or mqttv5 as the protocol version"
                ), "\(bad)")
    }

    // MARK: sub --pretty, --random-filter, -M

    /// Byte for byte what mosquitto_sub --pretty prints, but for the time stamp.
    @Test func prettyJSONAsMosquittoSub() throws {
        let broker = try TestBroker.named("format-compare", config: "log_type subscribe\n")
        let topic = uniqueTopic()
        let format = "%j|%J"
        let ours = try startSubscriber([
            "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/#", "-V", "5", "-F", format, "--pretty", "-C",
            "3",
        ])
        let clientID = "pretty-\(UUID().uuidString.prefix(8))"
        let theirs = try RunningProgram(
            "/usr/bin/mosquitto_sub",
            [
                "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/#", "-V", "5",
                "-i", clientID, "-F", format, "--pretty", "-C", "3",
            ])
        #expect(
            waitUntil(timeout: 15) { broker.log.contains("\(clientID) 0 \(topic)/#") }, "\(broker.log.suffix(1000))")
        for (sub, payload, extra) in [
            (
                "a", "{\"a\":[1,2,{\"b\":{}}],\"c\":{},\"d\":[]}",
                ["-D", "publish", "user-property", "k", "v", "-D", "publish", "content-type", "x/y"]
            ),
            ("b", "{}", []), ("c", "[{\"x\":1},[],\"s\\\"q\"]", ["-q", "1"]),
        ] {
            let pub = try mqttctl(
                ["pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-V", "5", "-t", "\(topic)/\(sub)", "-m", payload]
                    + extra)
            #expect(pub.status == 0, "\(pub)")
        }
        let ourResult = ours.wait(timeout: 20)
        let theirResult = theirs.wait(timeout: 20)
        #expect(ourResult.status == 0, "\(ourResult)")
        func normalised(_ text: String) -> String {
            text.replacingOccurrences(of: #""tst":\t"[^"]*""#, with: "TST", options: .regularExpression)
        }
        #expect(theirResult.status == 0, "\(theirResult)")
        #expect(
            normalised(ourResult.stdout) == normalised(theirResult.stdout),
            "ours:\n\(ourResult.stdout)\ntheirs:\n\(theirResult.stdout)")
        #expect(ourResult.stdout.contains("\n\t\"payload\":\t{\n\t\t\"a\":\t[1, 2, {\n"), "\(ourResult.stdout)")
    }

    @Test func randomFilterPrintsAShareAndCountsTheRest() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let total = 400
        let half = try startSubscriber([
            "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "-q", "1", "--random-filter", "50", "-C",
            "\(total)",
        ])
        let all = try startSubscriber([
            "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "-q", "1", "--random-filter", "100", "-C",
            "\(total)",
        ])
        let pub = try mqttctl(
            ["pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "-l", "-q", "1"],
            stdin: Data((1...total).map { "\($0)\n" }.joined().utf8))
        #expect(pub.status == 0, "\(pub)")
        // -C counts the messages filtered out, so both end after the 400th.
        let halfResult = half.wait(timeout: 30)
        let allResult = all.wait(timeout: 30)
        #expect(halfResult.status == 0 && allResult.status == 0, "\(halfResult)\n\(allResult)")
        #expect(allResult.stdoutLines.count == total, "\(allResult)")
        // Binomial(400, 0.5): 200 ± 10; outside 120...280 is all but impossible.
        let printed = halfResult.stdoutLines.count
        #expect((120...280).contains(printed), "\(printed) of \(total) printed")
        let numbers = halfResult.stdoutLines.compactMap { Int($0) }
        #expect(numbers == numbers.sorted() && numbers.count == printed, "in order, whole lines")
    }

    @Test(arguments: ["0", "0.05", "100.5", "fifty", "nan"])
    func badChances(chance: String) throws {
        let result = try mqttctl(["sub", "-t", "t", "--random-filter", chance])
        #expect(result.status == 2, "\(result)")
        #expect(
            result.stderrLines.count == 1 && result.stderr.contains("use a percentage from 0.1 to 100"), "\(result)")
    }

    @Test func subMaxInflight() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        for i in 1...3 {
            _ = try mqttctl([
                "pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/\(i)", "-m", "r\(i)", "-r", "-q", "1",
            ])
        }
        // --remove-retained's removals go out one at a time with -M 1; all three are removed.
        let removed = try mqttctl([
            "sub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/#", "--remove-retained", "-M", "1", "-C",
            "3", "-q", "1",
        ])
        #expect(removed.status == 0 && removed.stdoutLines.count == 3, "\(removed)")
        let left = try mqttctl(["sub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/#", "-W", "1"])
        #expect(left.status == 27 && left.stdout.isEmpty, "\(left)")
        let zero = try mqttctl(["sub", "-t", "t", "-M", "0"])
        #expect(zero.status == 2 && zero.stderr.contains("invalid -M 0"), "\(zero)")
    }
}
