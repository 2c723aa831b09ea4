#if canImport(Glibc)
import Glibc
#endif

/// The lock of the parse-once caches (`BrokerURL.once`, `PropertyOptions.parsed`):
/// the readers of an option (`Defaults`, `validate()`, the subcommand) parse it
/// once a run, and the unit tests run in parallel. The caches are plain
/// statics, not a generic type: instantiating one at run time cost every `-L`
/// run 670 K instructions; Synchronization's `Mutex` cost every run 130 K.
enum ParseOnce {
    /// All zeros is PTHREAD_MUTEX_INITIALIZER with glibc.
    nonisolated(unsafe) private static var mutex = pthread_mutex_t()

    static func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
