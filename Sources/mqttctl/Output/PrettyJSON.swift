/// `sub --pretty`: `%j`/`%J` as mosquitto_sub --pretty prints them, which is
/// cJSON_Print (cJSON 1.7.15, formatted): an object's members one per line,
/// indented by one tab per level of nesting (arrays count as a level),
/// `"key":<TAB>value`, the closing brace on a line of its own at the parent's
/// indentation (an empty object is `{`, newline, `}`); arrays on one line,
/// `[a, b]`. Strings and numbers are copied as the compact form has them.
enum PrettyJSON {
    /// Reformats compact, valid JSON (what `MosquittoJSON` writes).
    static func format(_ compact: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(compact.count + compact.count / 2)
        /// One entry per open bracket: true for an object.
        var stack: [Bool] = []
        /// The next string is a member's key, at the start of its line.
        var atMemberStart = false
        func indent(_ depth: Int) {
            if depth > 0 { out.append(contentsOf: repeatElement(9, count: depth)) }
        }
        var i = 0
        while i < compact.count {
            let c = compact[i]
            switch c {
            case UInt8(ascii: "{"):
                out.append(UInt8(ascii: "{"))
                out.append(UInt8(ascii: "\n"))
                stack.append(true)
                atMemberStart = true
                i += 1
            case UInt8(ascii: "["):
                out.append(UInt8(ascii: "["))
                stack.append(false)
                i += 1
            case UInt8(ascii: "}"):  // } (after the last member's newline, or the opening one)
                if !atMemberStart { out.append(UInt8(ascii: "\n")) }
                stack.removeLast()
                indent(stack.count)
                out.append(UInt8(ascii: "}"))
                atMemberStart = false
                i += 1
            case UInt8(ascii: "]"):
                stack.removeLast()
                out.append(UInt8(ascii: "]"))
                i += 1
            case UInt8(ascii: ","):
                if stack.last == true {
                    out.append(UInt8(ascii: ","))
                    out.append(UInt8(ascii: "\n"))
                    atMemberStart = true
                } else {
                    out.append(UInt8(ascii: ","))
                    out.append(UInt8(ascii: " "))
                }
                i += 1
            case UInt8(ascii: ":"):
                out.append(UInt8(ascii: ":"))
                out.append(UInt8(ascii: "\t"))
                i += 1
            case UInt8(ascii: "\""):  // a string, escapes and all
                if atMemberStart {
                    indent(stack.count)
                    atMemberStart = false
                }
                let start = i
                i += 1
                while i < compact.count && compact[i] != UInt8(ascii: "\"") {
                    i += compact[i] == UInt8(ascii: "\\") ? 2 : 1
                }
                i = min(i + 1, compact.count)
                out.append(contentsOf: compact[start..<i])
            default:  // numbers, true, false, null
                out.append(c)
                i += 1
            }
        }
        return out
    }
}
