import Testing
@testable import mqttctl
import Mosquitto

/// The typed option values: range ends, spellings, and the one line each
/// gives outside the parser (environment, config file).
@Suite struct ConnectionValueTests {
    func refused<T: CheckedValue>(_ type: T.Type, _ text: String) -> String? {
        T.problem(text)
    }

    @Test func ports() throws {
        #expect(try Port.parse("1").number == 1)
        #expect(try Port.parse("65535").number == 65535)
        for bad in ["0", "65536", "-1", "", "80a", " 80", "99999999999999999999"] {
            #expect(refused(Port.self, bad) == "invalid port '\(bad)': use a number from 1 to 65535", "\(bad)")
        }
    }

    @Test func keepAlives() throws {
        for good in [0, 5, 60, 65535] { #expect(try KeepAlive.parse("\(good)").seconds == good) }
        for bad in ["1", "4", "-1", "65536", "x", ""] {
            #expect(
                refused(KeepAlive.self, bad)
                    == "invalid keep-alive '\(bad)': use a keep-alive of 0 (off) or 5 to 65535 seconds (libmosquitto refuses 1 to 4)",
                "\(bad)")
        }
    }

    @Test func protocolSpellings() throws {
        let spellings: [(String, ProtocolVersion)] = [
            ("31", .v31), ("mqttv31", .v31), ("3.1", .v31), ("311", .v311), ("MQTTv311", .v311), ("3.1.1", .v311),
            ("5", .v5), ("mqttv5", .v5), ("5.0", .v5),
        ]
        for (text, version) in spellings {
            let option = try ProtocolOption.parse(text)
            #expect(option.version == version && option.text == text, "\(text)")
        }
        for bad in ["4", "3", "v5", "", "mqttv6"] {
            #expect(
                refused(ProtocolOption.self, bad)
                    == "invalid protocol version '\(bad)': use mqttv31, mqttv311 or mqttv5 as the protocol version (or 31, 311, 5)",
                "\(bad)")
        }
    }

    @Test func tlsVersions() throws {
        for name in ["tlsv1.3", "tlsv1.2", "tlsv1.1"] { #expect(try TLSVersion.parse(name).name == name) }
        for bad in ["tlsv1", "sslv3", "TLSv1.2", ""] {
            #expect(
                refused(TLSVersion.self, bad) == "invalid --tls-version '\(bad)': use tlsv1.3, tlsv1.2 or tlsv1.1",
                "\(bad)")
        }
    }

    @Test func sessionExpiries() throws {
        #expect(try SessionExpiry.parse("0").seconds == 0)
        #expect(try SessionExpiry.parse("4294967295").seconds == UInt32.max)
        for never in ["-1", "never", "NEVER", "inf", "infinite", "∞"] {
            #expect(try SessionExpiry.parse(never).seconds == UInt32.max, "\(never)")
        }
        for bad in ["4294967296", "-2", "1.5", ""] {
            #expect(
                refused(SessionExpiry.self, bad)
                    == "invalid session expiry '\(bad)': use seconds from 0 to 4294967295, or -1/never", "\(bad)")
        }
    }

    /// A pre-shared key is a secret: its message never quotes it.
    @Test func preSharedKeys() throws {
        #expect(try PreSharedKey.parse("0aF9").hex == "0aF9")
        for bad in ["", "xyz", "12 34", "0x12"] {
            #expect(
                refused(PreSharedKey.self, bad) == "invalid --psk: use the key in hexadecimal digits (e.g. 1a2b3c...)",
                "\(bad)")
        }
    }

    @Test func hexDigits() {
        #expect(Hex.isDigits("0123456789abcdefABCDEF"))
        for bad in ["", "g", "-1", "a b", "é"] { #expect(!Hex.isDigits(bad), "\(bad)") }
        #expect(Array("09afAF".utf8).map(Hex.value(of:)) == [0, 9, 10, 15, 10, 15])
        #expect(
            Hex.value(of: UInt8(ascii: "g")) == nil && Hex.value(of: UInt8(ascii: "/")) == nil
                && Hex.value(of: UInt8(ascii: ":")) == nil)
        #expect((try? SHA1Hex.parse(String(repeating: "a", count: 40))) != nil)
        #expect(SHA1Hex.problem(String(repeating: "a", count: 39)) != nil)
        #expect(SHA1Hex.problem(String(repeating: "g", count: 40)) != nil)
    }

    @Test func connectTimeouts() throws {
        #expect(try ConnectTimeout.parse("0.5") == 0.5)
        #expect(try ConnectTimeout.parse("86400") == 86400)
        #expect(
            ConnectTimeout.problem("0") == "invalid --connect-timeout '0': use a number of seconds above 0 to 86400")
        #expect(
            ConnectTimeout.problem("86401") == "invalid --connect-timeout '86401': use at most 86400 seconds (a day)")
        #expect(
            ConnectTimeout.problem("nan") != nil && ConnectTimeout.problem("x") != nil
                && ConnectTimeout.problem("-1") != nil)
    }

    @Test func secondsRanges() throws {
        #expect(try Seconds.parse("0", allowZero: true, maximum: Seconds.oneDay) == 0)
        #expect(Seconds.problem(0, allowZero: false, maximum: 10) == "use a number of seconds above 0 to 10")
        #expect(
            Seconds.problem(Seconds.oneYear + 1, allowZero: false, maximum: Seconds.oneYear)
                == "use at most 31536000 seconds (a year)")
        #expect(Seconds.problem(.nan, allowZero: true, maximum: 10) == "use a number of seconds from 0 to 10")
        #expect(Seconds.problem(10, allowZero: false, maximum: 10) == nil)
    }

    /// The parser takes the same types: its line quotes the value and gives the same reason.
    @Test func theParserGivesTheSameReason() {
        do {
            _ = try Publish.parse(["-t", "a", "-m", "x", "-k", "3"])
            Issue.record("-k 3 accepted")
        } catch {
            let message = Publish.message(for: error)
            #expect(
                message.contains("'3'") && message.contains("use a keep-alive of 0 (off) or 5 to 65535 seconds"),
                "\(message)")
        }
        do {
            _ = try Publish.parse(["-t", "a", "-m", "x", "--psk", "secretzz", "--psk-identity", "i"])
            Issue.record("a bad --psk accepted")
        } catch {
            let message = Publish.message(for: error)
            #expect(message.contains("invalid --psk") && !message.contains("secretzz"), "\(message)")
        }
    }
}
