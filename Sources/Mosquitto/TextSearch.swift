extension StringProtocol {
    /// Whether `text` occurs in this string, compared as UTF-8 bytes: for matching
    /// library log lines and host names, which are ASCII.
    ///
    /// Not the standard library's `contains(_: some StringProtocol)`: that one
    /// is in `_StringProcessing`, and one call to it links that module and
    /// `_RegexParser` into the statically linked release binary, about 440 more
    /// protocol-conformance records, which every conformance lookup of
    /// start-up scans (bench/README.md, "_StringProcessing left out").
    func includes(_ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard let first = needle.first else { return false }  // as contains("") answers
        let haystack = Array(utf8)
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == first {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
