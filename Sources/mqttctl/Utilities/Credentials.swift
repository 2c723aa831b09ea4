#if canImport(Glibc)
import Glibc
#endif

/// Passwords kept out of argv. The password itself only ever goes to libmosquitto:
/// no message here (or anywhere) includes it.
enum Credentials {
    /// The first line of `path` (without the line end). Refused when other users
    /// can read the file; a warning when its group can.
    static func readPasswordFile(_ path: String) throws(CommandFailure) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .usage("cannot read --password-file '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw .usage("cannot read --password-file '\(path)': \(String(cString: strerror(errno)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw .usage("cannot read --password-file '\(path)': it is a directory")
        }
        if (st.st_mode & S_IFMT) == S_IFREG {
            // Only a file's mode says who can read it; a pipe (<(pass show mqtt)) or a
            // device is not a file to chmod.
            try checkPrivate(path: path, mode: st.st_mode, what: "password file")
        }
        let bytes: [UInt8]
        do {
            bytes = try InputReading.readSmall(fd)
        } catch {
            throw .usage("cannot read --password-file '\(path)': \(InputReading.reason(error))")
        }
        var line = bytes.prefix { $0 != UInt8(ascii: "\n") }
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        if line.isEmpty {
            throw .usage("the password file '\(path)' has an empty first line (the password is its first line)")
        }
        guard let password = String(validating: line, as: UTF8.self) else {
            throw .usage("the password in '\(path)' is not valid UTF-8")
        }
        return password
    }

    /// Refuses a file holding a secret that other users can read; warns when its group can.
    static func checkPrivate(path: String, mode: mode_t, what: String) throws(CommandFailure) {
        let permissions = mode & 0o777
        if permissions & S_IROTH != 0 {
            throw .usage(
                "the \(what) '\(path)' is readable by other users (mode \(octal(permissions))); make it private with: chmod 600 '\(path)'"
            )
        }
        if permissions & S_IRGRP != 0 {
            Diagnostics.warning(
                "the \(what) '\(path)' is readable by its group (mode \(octal(permissions))); consider: chmod 600 '\(path)'"
            )
        }
    }

    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
