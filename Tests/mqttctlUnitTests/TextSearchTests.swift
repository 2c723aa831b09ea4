@testable import Mosquitto
import Testing

/// `includes(_:)` stands in for the standard library's `contains(_: String)`
/// (Sources/Mosquitto/TextSearch.swift): the same answers for what it is used on.
@Suite struct TextSearchTests {
    @Test(arguments: [
        ("error: host name verification failed", "host name verification failed", true),
        ("getaddrinfo failed", "getaddrinfo", true),
        ("connection timed out", "timed out", true),
        ("tls", "tls", true),
        ("::1", ":", true),
        ("localhost", ":", false),
        ("time", "timeout", false),
        ("abab", "abc", false),
        ("aaab", "aab", true),
        ("", "x", false),
        ("anything", "", false),
        ("Grüße aus Köln", "öln", true),
        ("Grüße", "ße a", false),
    ])
    func agreesWithContains(text: String, part: String, expected: Bool) {
        #expect(text.includes(part) == expected)
        #expect(text.includes(part) == text.contains(part))
        #expect(Substring(text).includes(part) == expected)
    }
}
