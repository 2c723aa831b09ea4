import Testing
@testable import mqttctl

/// `sub`'s options become the job's settings value: each option lands in its
/// field, and what is not given keeps the job's defaults.
@Suite struct SubscribeSettingsTests {
    @Test func optionsBecomeSettings() throws {
        let given = try Subscribe.parse([
            "-t", "a/#", "-C", "3", "-W", "2.5", "-T", "a/x", "-R",
            "-E", "-U", "old/#", "--remove-retained",
        ])
        let settings = given.settings
        #expect(settings.count == 3 && settings.timeout == 2.5)
        #expect(settings.filterOut == ["a/x"] && settings.unsubscribe == ["old/#"])
        #expect(settings.ignoreRetained && settings.exitAfterSubscribe && settings.removeRetained)
        #expect(!settings.retainedOnly && !settings.reconnect && settings.randomFilter == nil)
    }

    @Test func nothingGivenIsTheDefaultValue() throws {
        #expect(try Subscribe.parse(["-t", "a"]).settings == SubscribeSettings())
    }
}
