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
            case 123:  // {
                out.append(123)
                out.append(10)
                stack.append(true)
                atMemberStart = true
                i += 1
            case 91:  // [
                out.append(91)
                stack.append(false)
                i += 1
            case 125:  // } (after the last member's newline, or the opening one)
                if !atMemberStart { out.append(10) }
                stack.removeLast()
                indent(stack.count)
                out.append(125)
                atMemberStart = false
                i += 1
            case 93:  // ]
                stack.removeLast()
                out.append(93)
                i += 1
            case 44:  // ,
                if stack.last == true {
                    out.append(44)
                    out.append(10)
                    atMemberStart = true
                } else {
                    out.append(44)
                    out.append(32)
                }
                i += 1
            case 58:  // :
                out.append(58)
                out.append(9)
                i += 1
            case 34:  // a string, escapes and all
                if atMemberStart {
                    indent(stack.count)
                    atMemberStart = false
                }
                let start = i
                i += 1
                while i < compact.count && compact[i] != 34 {
                    i += compact[i] == 92 ? 2 : 1
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
