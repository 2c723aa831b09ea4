"""A second MQTT-over-WebSocket server for the tests (see TestWebSocketRelay.swift):
Debian's python3-websockets (10.x) in front of a TCP MQTT broker (a TestBroker
mosquitto, which has no WebSocket listener of its own). Each connection is
relayed byte for byte, WebSocket binary frames to TCP and back.

The request path chooses how it behaves, for what ejabberd never does:
  /mqtt                  relay, subprotocol mqtt
  /none                  relay, but choose no subprotocol
  /wrong                 relay, but choose the subprotocol "foo"
  /status/CODE           refuse the upgrade with HTTP CODE
  /close/CODE/REASON     relay, then send a close frame CODE REASON right after
                         the broker's first packet (CONNACK)
  /header/NAME/VALUE     relay only when the request has header NAME: VALUE, else 401
  anything else          404 Not Found
Prints "ws_relay listening on PORT" once it accepts connections."""
import argparse
import asyncio
import http
import sys
import urllib.parse

import websockets

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--broker-port", type=int, required=True)
args = parser.parse_args()


def parts(path):
    return [urllib.parse.unquote(p) for p in path.split("?")[0].split("/")[1:]]


async def process_request(path, headers):
    p = parts(path)
    if p == ["mqtt"] or p == ["none"] or p == ["wrong"]:
        return None
    if len(p) == 2 and p[0] == "status" and p[1].isdigit():
        code = http.HTTPStatus(int(p[1]))
        return code, [], b"refused by ws_relay.py\n"
    if len(p) == 3 and p[0] == "close" and p[1].isdigit():
        return None
    if len(p) == 3 and p[0] == "header":
        if headers.get(p[1]) == p[2]:
            return None
        return http.HTTPStatus.UNAUTHORIZED, [], b"missing header\n"
    return http.HTTPStatus.NOT_FOUND, [], b"no such path\n"


def select_subprotocol(self, client_subprotocols, server_subprotocols):
    p = parts(self.path)
    if p == ["none"]:
        return None
    if p == ["wrong"]:
        return "foo"
    return "mqtt" if "mqtt" in client_subprotocols else None


class Protocol(websockets.WebSocketServerProtocol):
    def select_subprotocol(self, client_subprotocols, server_subprotocols):
        return select_subprotocol(self, client_subprotocols, server_subprotocols)


async def handler(ws, path=None):
    p = parts(ws.path)
    close_after_first = None
    if len(p) == 3 and p[0] == "close":
        close_after_first = (int(p[1]), p[2])
    reader, writer = await asyncio.open_connection("127.0.0.1", args.broker_port)

    async def up():
        try:
            async for message in ws:
                writer.write(message if isinstance(message, bytes) else message.encode())
                await writer.drain()
        except websockets.ConnectionClosed:
            pass
        writer.close()

    async def down():
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await ws.send(data)
            if close_after_first:
                await ws.close(close_after_first[0], close_after_first[1])
                return
        await ws.close(1000, "broker closed")

    tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    writer.close()


async def main():
    async with websockets.serve(handler, "127.0.0.1", args.port, create_protocol=Protocol,
                                subprotocols=["mqtt"], process_request=process_request,
                                compression=None, ping_interval=None, max_size=None):
        print(f"ws_relay listening on {args.port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
