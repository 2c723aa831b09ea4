// swift-argument-parser describes an error with `(error as? LocalizedError)?.errorDescription`
// (its Utilities/Foundation.swift). In the release build this protocol stands in for
// FoundationEssentials' (scripts/build-release aliases the module): nothing in mqttctl
// conforms to either, so the cast fails in both builds and the error is described by
// `String(describing:)`, as swift-argument-parser does when the cast fails.

/// An error that carries its own description, as FoundationEssentials' protocol of the name.
public protocol LocalizedError: Error {
    var errorDescription: String? { get }
}

extension LocalizedError {
    public var errorDescription: String? { nil }
}
