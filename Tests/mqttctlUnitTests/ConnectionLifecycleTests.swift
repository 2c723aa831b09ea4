import Testing
@testable import Mosquitto

/// `MQTTClient`'s connection lifecycle, driven by made-up events: no broker,
/// no socket, no libmosquitto call. A mutating event is called before its
/// `#expect`, whose macro cannot call one.
@Suite struct ConnectionLifecycleTests {
    static let disconnect: [UInt8] = [0xE0, 0x00]

    func connected() -> ConnectionLifecycle {
        var lifecycle = ConnectionLifecycle()
        lifecycle.connectStarted()
        lifecycle.connAckAccepted()
        return lifecycle
    }

    func isRequested(_ reason: CloseReason?) -> Bool {
        if case .requested? = reason { return true }
        return false
    }

    @Test func aRequestedDisconnectFlushesThenDrainsThenClosesAsRequested() {
        var lifecycle = connected()
        #expect(lifecycle.publicState == .connected && lifecycle.isOpen && lifecycle.libraryMayRead)
        #expect(lifecycle.deadline(connectDeadline: 7) == .max)

        let answer1 = lifecycle.disconnectRequested(packet: Self.disconnect)
        #expect(answer1 == .flush)
        #expect(lifecycle.ending == .flushing(Self.disconnect))
        // Still connected to callers, but libmosquitto reads nothing more and
        // keep-alive stops.
        #expect(lifecycle.publicState == .connected)
        #expect(!lifecycle.isOpen && !lifecycle.libraryMayRead)

        lifecycle.disconnectSent(drainUntil: 42)
        #expect(lifecycle.ending == .draining(until: 42))
        #expect(lifecycle.deadline(connectDeadline: 7) == 42)
        // The broker's close is the end we asked for.
        #expect(isRequested(lifecycle.reasonForPeerClose(otherwise: .failed(MQTTError(.connectionLost, "lost")))))

        let answer2 = lifecycle.close(.requested)
        #expect(answer2)
        #expect(lifecycle.publicState == .closed)
        #expect(isRequested(lifecycle.closeReason))
        #expect(lifecycle.ending == nil)
        #expect(lifecycle.deadline(connectDeadline: 7) == .max)
    }

    @Test func aDisconnectRequestWhileEndingIsIgnored() {
        var lifecycle = connected()
        let answer3 = lifecycle.disconnectRequested(packet: Self.disconnect)
        #expect(answer3 == .flush)
        let answer4 = lifecycle.disconnectRequested(packet: [0xE0, 0x01, 0x04])
        #expect(answer4 == .ignore)
        #expect(lifecycle.ending == .flushing(Self.disconnect))  // the first DISCONNECT stands
        lifecycle.disconnectSent(drainUntil: 1)
        let answer5 = lifecycle.disconnectRequested(packet: Self.disconnect)
        #expect(answer5 == .ignore)
        #expect(lifecycle.ending == .draining(until: 1))
        let answer6 = lifecycle.close(.requested)
        #expect(answer6)
        let answer7 = lifecycle.disconnectRequested(packet: Self.disconnect)
        #expect(answer7 == .ignore)
        var idle = ConnectionLifecycle()
        let idleAnswer = idle.disconnectRequested(packet: Self.disconnect)
        #expect(idleAnswer == .ignore)  // idle
    }

    @Test func aDisconnectBeforeConnAckClosesAtOnce() {
        var lifecycle = ConnectionLifecycle()
        lifecycle.connectStarted()
        let answer8 = lifecycle.disconnectRequested(packet: Self.disconnect)
        #expect(answer8 == .closeNow)
        #expect(lifecycle.ending == nil)
        let answer9 = lifecycle.close(.requested)
        #expect(answer9 && isRequested(lifecycle.closeReason))
    }

    @Test func aPeerCloseWhileConnectingOrConnectedIsNotRequested() {
        for accepted in [false, true] {
            var lifecycle = ConnectionLifecycle()
            lifecycle.connectStarted()
            #expect(lifecycle.publicState == .connecting)
            #expect(lifecycle.deadline(connectDeadline: 7) == 7)
            if accepted { lifecycle.connAckAccepted() }
            let reason = lifecycle.reasonForPeerClose(otherwise: .serverDisconnect(ServerDisconnect(reasonCode: 0)))
            guard case .serverDisconnect(let disconnect) = reason else {
                Issue.record("expected the broker's close, got \(reason)")
                continue
            }
            #expect(disconnect.reasonCode == 0)
            let answer10 = lifecycle.close(reason)
            #expect(answer10)
            // libmosquitto may report a close twice: the first reason stands.
            let answer11 = lifecycle.close(.requested)
            #expect(!answer11)
            guard case .serverDisconnect? = lifecycle.closeReason else {
                Issue.record("the second close replaced the first")
                continue
            }
            #expect(lifecycle.publicState == .closed && !lifecycle.libraryMayRead)
        }
    }

    @Test func stopAfterDeliverySendsDisconnectAroundTheQueue() {
        var lifecycle = connected()
        #expect(lifecycle.lastDeliveryRead() == .none)
        #expect(lifecycle.mayStopAfterDelivery)
        var properties = MQTTProperties()
        properties.append(MQTTProperties.reasonString, .string("done"))
        lifecycle.stopAfterDelivery(properties: properties, flushed: true)
        // Still open (keep-alive, writes around the queue), but libmosquitto
        // reads no more, and a second stop is refused.
        #expect(lifecycle.publicState == .connected && lifecycle.isOpen && !lifecycle.libraryMayRead)
        #expect(!lifecycle.mayStopAfterDelivery)
        // Not a requested end yet: a close before the last read is the broker's.
        let lost = lifecycle.reasonForPeerClose(otherwise: .failed(MQTTError(.connectionLost, "lost")))
        #expect(!isRequested(lost))

        #expect(lifecycle.lastDeliveryRead() == .sendDisconnect(properties))
        lifecycle.disconnectSent(drainUntil: 9)
        #expect(lifecycle.ending == .draining(until: 9))
        #expect(isRequested(lifecycle.reasonForPeerClose(otherwise: lost)))
    }

    @Test func stopAfterDeliveryWithAHalfWrittenPacketClosesAtOnce() {
        var lifecycle = connected()
        lifecycle.stopAfterDelivery(properties: MQTTProperties(), flushed: false)
        #expect(lifecycle.lastDeliveryRead() == .closeNow)
    }

    @Test func aDisconnectRequestTakesOverFromAStopAfterDelivery() {
        var lifecycle = connected()
        lifecycle.stopAfterDelivery(properties: MQTTProperties(), flushed: true)
        let answer12 = lifecycle.disconnectRequested(packet: Self.disconnect)
        #expect(answer12 == .flush)
        #expect(lifecycle.ending == .flushing(Self.disconnect))
        #expect(lifecycle.lastDeliveryRead() == .none)
    }

    @Test func theTLSHandshakeIsDoneOncePerAttempt() {
        var lifecycle = ConnectionLifecycle()
        let answer13 = lifecycle.tlsHandshakeFinished()
        #expect(!answer13)  // not connecting
        lifecycle.connectStarted()
        #expect(lifecycle.awaitsTLSHandshake && !lifecycle.tlsHandshakeDone)
        let answer14 = lifecycle.tlsHandshakeFinished()
        #expect(answer14)
        let answer15 = lifecycle.tlsHandshakeFinished()
        #expect(!answer15)  // noticed once
        #expect(!lifecycle.awaitsTLSHandshake && lifecycle.tlsHandshakeDone)
        #expect(lifecycle.publicState == .connecting)
        lifecycle.connAckAccepted()
        let answer16 = lifecycle.tlsHandshakeFinished()
        #expect(!lifecycle.tlsHandshakeDone && !answer16)
        // A reconnect is a new handshake.
        let answer17 = lifecycle.close(.failed(MQTTError(.connectionLost, "lost")))
        #expect(answer17)
        lifecycle.connectStarted()
        #expect(lifecycle.awaitsTLSHandshake && lifecycle.closeReason == nil)
        let answer18 = lifecycle.tlsHandshakeFinished()
        #expect(answer18)
    }
}
