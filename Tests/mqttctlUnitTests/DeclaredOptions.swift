import Foundation
import Testing
import ArgumentParser

/// (names, takes a value) of each option a group or command declares, as the parser describes it.
func declaredOptions(_ group: ParsableArguments.Type) throws -> [(names: [String], takesValue: Bool)] {
    let json = try #require(group._dumpHelp().data(using: .utf8))
    let root = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
    let command = try #require(root["command"] as? [String: Any])
    return (command["arguments"] as? [[String: Any]] ?? []).compactMap { argument in
        let kind = argument["kind"] as? String
        guard kind == "option" || kind == "flag" else { return nil }
        let names = (argument["names"] as? [[String: Any]] ?? []).compactMap { name -> String? in
            guard let text = name["name"] as? String else { return nil }
            return (name["kind"] as? String == "short" ? "-" : "--") + text
        }
        return (names, kind == "option")
    }
}

