import Foundation
import Testing

/// Output that cannot be written is never a success: a full disk or a closed
/// stdout is status 1 with one line, a reader that went away is a quiet 141.
@Suite struct OutputFailureTests {
    static let failingOutputs: [(String, Redirect)] = [
        ("No space left on device", .path("/dev/full")), ("it is closed", .closed),
    ]

    @Test(arguments: failingOutputs)
    func pingThatCannotWriteFails(reason: String, output: Redirect) throws {
        let broker = try TestBroker.standard()
        let result = try mqttctl(
            ["ping", "-p", "\(broker.port)", "-C", "3", "--interval", "0.05"], stdoutRedirect: output)
        #expect(result.status == 1, "\(result)")
        #expect(
            result.stderrLines == ["mqttctl: error: cannot write to stdout: \(reason) (after 1 PINGREQ)"], "\(result)")
    }

    @Test(arguments: failingOutputs)
    func helpThatCannotBeWrittenFails(reason: String, output: Redirect) throws {
        for arguments in [["--help"], ["pub", "--help"], ["--version"]] {
            let result = try mqttctl(arguments, stdoutRedirect: output)
            #expect(result.status == 1, "\(arguments): \(result)")
            #expect(
                result.stderrLines == ["mqttctl: error: cannot write to stdout: \(reason)"], "\(arguments): \(result)")
        }
    }

    @Test func pingWhoseReaderWentAwayEndsQuietlyWith141() throws {
        let broker = try TestBroker.standard()
        let pipe = makePipe()
        try pipe.fileHandleForReading.close()
        let result = try mqttctl(
            ["ping", "-p", "\(broker.port)", "--interval", "0.05"],
            stdoutRedirect: .descriptor(pipe.fileHandleForWriting.fileDescriptor))
        try pipe.fileHandleForWriting.close()
        #expect(result.status == 141, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
    }
}
