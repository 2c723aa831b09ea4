#if FUZZING
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's entry point, compiled only into the fuzz build (scripts/fuzz,
/// `-D FUZZING -sanitize=fuzzer,address`), where libFuzzer supplies `main`.
/// MQTTCTL_FUZZ_TARGET names the target (see `FuzzTargets.names`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard FuzzTargets.run(fuzzTarget, UnsafeRawBufferPointer(start: data, count: size)) else {
        Diagnostics.error("MQTTCTL_FUZZ_TARGET must be one of: \(FuzzTargets.names.joined(separator: ", "))")
        exit(2)
    }
    return 0
}

private let fuzzTarget: String = getenv("MQTTCTL_FUZZ_TARGET").map { String(cString: $0) } ?? ""
#endif
