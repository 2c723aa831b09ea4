import CMosquitto

/// Topic and topic-filter checks, with the messages the command prints.
/// libmosquitto does the actual checking, so mqttctl agrees with it exactly.
public enum Topic {
    /// nil when `topic` is a valid topic name to publish to; otherwise what is wrong.
    public static func problemWithName(_ topic: String) -> String? {
        if let problem = commonProblem(topic) { return problem }
        let rc = topic.withCString { mosquitto_pub_topic_check2($0, topic.utf8.count) }
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            return "'\(topic)' contains a wildcard (+ or #); wildcards are only allowed in subscriptions"
        }
        return nil
    }

    /// nil when `filter` is a valid subscription filter; otherwise what is wrong.
    public static func problemWithFilter(_ filter: String) -> String? {
        if let problem = commonProblem(filter) { return problem }
        let rc = filter.withCString { mosquitto_sub_topic_check2($0, filter.utf8.count) }
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            return "'\(filter)' is not a valid topic filter: '+' must fill a whole level and '#' must be the last level"
        }
        return nil
    }

    private static func commonProblem(_ topic: String) -> String? {
        let length = topic.utf8.count
        if length == 0 { return "the topic is empty" }
        if length > 65535 { return "the topic is \(length) bytes long; MQTT allows at most 65535" }
        let rc = topic.withCString { mosquitto_validate_utf8($0, Int32(length)) }
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            return "the topic '\(topic)' is not valid MQTT UTF-8 (control characters and U+0000 are not allowed)"
        }
        return nil
    }

    /// Whether `topic`, raw bytes as in `ReceivedMessage`, matches the subscription `filter`.
    public static func matches(filter: String, topic: UnsafeRawBufferPointer) -> Bool {
        var result = false
        let rc = topic.withMemoryRebound(to: CChar.self) { chars in
            mosquitto_topic_matches_sub2(filter, filter.utf8.count, chars.baseAddress, chars.count, &result)
        }
        return rc == MOSQ_ERR_SUCCESS.rawValue && result
    }
}
