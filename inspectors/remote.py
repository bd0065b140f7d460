"""The engine over ZeroMQ: an engine serves one client at a time; clients speak to it.

Transport: ZeroMQ (pyzmq), Jupyter's own. The engine binds a ROUTER socket (localhost
unless told otherwise); a client connects a DEALER. Every message is a multipart
frame list:

    [b"hello", token]                 client -> engine, first; the engine answers
    [b"welcome", version]  or  [b"refused", reason]
    [b"cmd", message, *buffers]       a command (`inspectors.wire`: JSON + raw arrays)
    [b"evt", message, *buffers]       an event
    [b"bye"]                          the client detaches (the engine keeps running)

`message` is UTF-8 JSON as `inspectors.wire.encode` makes it; arrays travel as raw
buffers with their dtype and shape in the message. Nothing received is unpickled or
evaluated, and nothing is accepted before a hello with the right token (compared in
constant time). Whoever holds the token can run code in the engine, as with any
debugger: keep it to yourself, and reach a remote engine through an SSH tunnel.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import hmac
import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors import wire
from inspectors.engine import Engine, Listener, tell

VERSION = b"2"  # the wire schema (`inspectors.wire`)
#: How often an idle server looks whether it was stopped (seconds); I/O threads are
#: woken by what they have to send, never by a clock.
IDLE_S = 0.2
#: The most node events one batch message carries.
BATCH = 1024
#: Node events wake the server's I/O thread at most this often (seconds); any other
#: event wakes it at once and takes the node events before it along.
BATCH_S = 0.02
#: How long a client waits for the engine's answer to its hello.
HELLO_TIMEOUT_S = 10.0


#: An event larger than this crosses in chunks of this size, so the client can show
#: progress (a full value of hundreds of MiB) and other events are not held behind it.
CHUNK_BYTES = 4 << 20


def _chunked(out: list[bytes], number: int) -> list[list[Any]]:
    """An event's frames (`evt`, its JSON, its buffers) as the messages that carry it in
    chunks: `big` (number, the JSON, the buffers' sizes), then `part`s (number, bytes),
    the buffers' bytes in order. Small events stay one message."""
    buffers = out[2:]
    sizes = [len(memoryview(b).cast("B")) for b in buffers]
    if out[0] != b"evt" or sum(sizes) <= CHUNK_BYTES:
        return [out]
    tag = str(number).encode()
    messages: list[list[Any]] = [[b"big", tag, out[1], json.dumps(sizes).encode()]]
    for buffer in buffers:
        view = memoryview(buffer).cast("B")
        for start in range(0, len(view), CHUNK_BYTES):
            messages.append([b"part", tag, view[start : start + CHUNK_BYTES]])
    return messages


class _Assembly:
    """A chunked event arriving at a client: its buffers filled part by part."""

    def __init__(self, header: bytes, sizes: list[int]) -> None:
        self.header = header
        self.what = str(json.loads(header.decode()).get("type", "event"))
        self.buffers = [bytearray(n) for n in sizes]
        self.total = sum(sizes)
        self.received = 0
        self._at = (0, 0)  # (buffer, offset) the next part fills

    def add(self, data: bytes) -> bool:
        """Take the next part; True once every buffer is whole."""
        view = memoryview(data)
        index, offset = self._at
        while view.nbytes and index < len(self.buffers):
            room = len(self.buffers[index]) - offset
            take = min(room, view.nbytes)
            self.buffers[index][offset : offset + take] = view[:take]
            view, offset, self.received = view[take:], offset + take, self.received + take
            if offset == len(self.buffers[index]):
                index, offset = index + 1, 0
        while index < len(self.buffers) and not len(self.buffers[index]):
            index += 1  # empty buffers need no part
        self._at = (index, offset)
        return index >= len(self.buffers)


class _Waker:
    """A pipe an I/O thread polls beside its socket: `wake()` (any thread) says there
    is something to send, so the thread never waits on a clock."""

    def __init__(self) -> None:
        self.fd, self._write = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._write, False)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # full: it is awake already
            os.write(self._write, b"\0")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self.fd, 4096):
                pass

    def close(self) -> None:
        for fd in (self.fd, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


#: Events queued as they are and encoded on the server's I/O thread, many to a message
#: (`wire.encode_steps`):
#: one per node run, so their cost is the transport's; they carry no arrays, only
#: frozen summaries.
_BATCHED = (ev.NodeStepped,)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Encoding or decoding a batch makes many small objects that live for a moment:
    the collector would walk the whole heap (a model's) again and again meanwhile."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _frames(kind: bytes, obj: Any) -> list[bytes]:
    message, buffers = wire.encode(obj)
    return [kind, json.dumps(message, allow_nan=False).encode(), *buffers]


def _unframe(frames: list[Any]) -> Any:
    """Frames back to the object: the JSON, then the buffers (bytes or bytearrays)."""
    return wire.decode(json.loads(bytes(frames[0]).decode()), list(frames[1:]))


#: The events that make an engine's state, by the slot each fills (see `_attach`).
_STATE_SLOTS: dict[type, str] = {
    ev.Loaded: "load",
    ev.LoadFailed: "load",
    ev.SessionStarted: "session",
    ev.SessionUnavailable: "session",
    ev.BreakpointsChanged: "breakpoints",
    ev.Paused: "paused",
}


#: The environment variable that carries a token, off command lines others can read.
TOKEN_ENV = "GRAPHSTEP_TOKEN"


def new_token() -> str:
    return secrets.token_hex(16)


class EngineServer:
    """Serves an `Engine` to one client at a time over a ROUTER socket."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        end_process: bool = False,
    ) -> None:
        import zmq

        self.engine = engine or Engine()
        # `EndEngine` from a client ends this whole process (an engine of its own, such
        # as `graphstep serve`); otherwise the engine says it cannot be ended.
        self.end_process = end_process
        self._last_node: str | None = None  # as the session's progress says, node by node
        #: also given each node's id (an engine process's shared block, see serve_engine)
        self.progress_writer: Callable[[str], None] | None = None
        self.engine.progress = self._progress
        self.token = token or new_token()
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.LINGER, 0)
        if port:
            self._socket.bind(f"tcp://{host}:{port}")
        else:
            port = self._socket.bind_to_random_port(f"tcp://{host}")
        self.host, self.port = host, port
        # what the engine's threads queue for the I/O thread (a deque: appends and pops
        # are atomic, and a continue queues one event a node)
        self._outbox: collections.deque[list[bytes] | ev.NodeStepped] = collections.deque()
        self._waker = _Waker()
        self._woken = 0.0  # when a node event last woke the I/O thread
        # The engine's state as events, replayed to every client as it attaches: the
        # model loaded, its session, the breakpoints, the last pause.
        self._state: dict[str, list[bytes]] = {}
        self._state_lock = threading.Lock()
        self._client: bytes | None = None
        self._sent = 0  # events sent: numbers the chunked ones
        self._stop = threading.Event()
        self.ended = threading.Event()  # the engine was shut down (by a client or `stop`)
        self.engine.add_listener(self._on_event)
        self._thread = threading.Thread(target=self._serve, name="graphstep-serve", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self, farewell: str = "") -> None:
        """Stop serving. With `farewell`, an attached client first hears that the engine
        ended (`EngineDied`, `how` = farewell), so it does not wait on it forever."""
        if farewell and self._client is not None:
            self._outbox.append(_frames(b"evt", engine_died(0, farewell, self._last_node)))
            self._waker.wake()
        self._stop.set()
        self._thread.join(5)

    def _on_event(self, event: ev.Event) -> None:
        """Engine threads: encode now (arrays are copied into buffers), send later; a
        node event goes as it is, to be batched with its neighbours."""
        if isinstance(event, _BATCHED):
            self._outbox.append(event)
            now = time.monotonic()
            if now - self._woken > BATCH_S:  # not at every node: it would take turns
                self._woken = now  # with the model for the interpreter, node by node
                self._waker.wake()
            return
        try:
            frames = _frames(b"evt", event)
        except Exception:  # an event that cannot cross is a bug: say it, keep serving
            traceback.print_exc()
            return
        slot = _STATE_SLOTS.get(type(event))
        if isinstance(event, ev.LoadFailed) and event.origin != "load":
            slot = None  # a recapture that failed: the model loaded stays
        with self._state_lock:
            if slot == "load":  # a new model: its session and pauses are to come
                self._state.clear()
            if slot is not None:
                self._state[slot] = frames
            self._outbox.append(frames)
        self._waker.wake()

    def _attach(self, who: bytes) -> None:
        """A client attached: what is queued was for no one (or for the client before);
        it gets the engine's state instead, then every event from now on."""
        with self._state_lock:
            self._outbox.clear()
            for slot in ("load", "session", "breakpoints", "paused"):
                if slot in self._state:
                    self._outbox.append(self._state[slot])
            self._client = who
        self._waker.wake()

    def _serve(self) -> None:
        import zmq

        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        poller.register(self._waker.fd, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                idle = BATCH_S if self._outbox else IDLE_S
                ready = dict(poller.poll(int(idle * 1000)))
                if self._waker.fd in ready:
                    self._waker.drain()
                for _ in range(BATCH):  # what came in, then what is to go out
                    if not self._socket.poll(0, zmq.POLLIN):
                        break
                    frames = self._socket.recv_multipart()
                    self._receive(frames[0], frames[1:])
                self._send_queued()
            self._send_queued()  # a farewell queued as it stopped
        finally:
            self._socket.close(500 if self._client is not None else 0)  # let it go out
            self._context.term()
            self._waker.close()

    def _send_queued(self) -> None:
        """Send what the engine queued, in order; node events many to a message."""
        batch: list[ev.NodeStepped] = []
        take = self._outbox.popleft
        while self._client is not None:
            try:
                out = take()
            except IndexError:
                break
            if isinstance(out, list):
                self._send_batch(batch)
                self._send(out)
                continue
            batch.append(out)
            if len(batch) >= BATCH:
                self._send_batch(batch)
        self._send_batch(batch)

    def _send_batch(self, batch: list[ev.NodeStepped]) -> None:
        if not batch:
            return
        try:
            with _no_gc():
                message, buffers = wire.encode_steps(batch)
                frames = [b"steps", json.dumps(message, allow_nan=False).encode(), *buffers]
            self._send(frames)
        except Exception:  # an event that cannot cross is a bug: say it, keep serving
            traceback.print_exc()
        batch.clear()

    def _send(self, out: list[bytes]) -> None:
        if self._client is None:
            return
        self._sent += 1
        for message in _chunked(out, self._sent):
            self._socket.send_multipart([self._client, *message], copy=False)

    def _receive(self, who: bytes, frames: list[bytes]) -> None:
        kind = frames[0] if frames else b""
        if kind == b"hello":
            given = frames[1] if len(frames) > 1 else b""
            if hmac.compare_digest(given, self.token.encode()):
                self._socket.send_multipart([who, b"welcome", VERSION])
                self._attach(who)
            else:
                self._socket.send_multipart([who, b"refused", b"wrong token"])
            return
        if who != self._client:
            return  # not attached: ignored, never decoded
        if kind == b"bye":
            self._client = None
        elif kind == b"cmd":
            try:
                command = _unframe(frames[1:])
            except (ValueError, TypeError, KeyError) as exc:
                self._on_event(ev.Message("error", f"A command could not be read: {exc}"))
                return
            if not isinstance(command, cmds.ALL):
                self._on_event(ev.Message("error", f"Not a command: {type(command).__name__}"))
                return
            if isinstance(command, cmds.Shutdown):
                self.engine.close()
                self.ended.set()
                self._stop.set()
                return
            if isinstance(command, cmds.EndEngine) and self.end_process:
                self._end_process_now(who)
            self.engine.send(command)

    def _progress(self, node_id: str) -> None:
        """The session's thread, after each node (and around breakpoint expressions)."""
        self._last_node = node_id
        writer = self.progress_writer
        if writer is not None:
            writer(node_id)

    def _end_process_now(self, who: bytes) -> None:
        """A client ended this engine (its model did not answer): say so, then exit
        without waiting for the model's threads, which may never return."""
        how = "ended by you"
        died = engine_died(EXIT_ENDED, how, self._last_node)
        last = died.last_node
        with contextlib.suppress(Exception):
            self._socket.send_multipart([who, *_frames(b"evt", died)])
            time.sleep(0.2)  # let the socket's I/O thread send it
        where = f" after {last}" if last else ""
        print(f"graphstep: the engine was ended from the window{where}", file=sys.stderr)
        exit_now(EXIT_ENDED)


class RemoteClient:
    """An `EngineClient` for an engine served elsewhere (`EngineServer`)."""

    def __init__(self, address: str, token: str, *, timeout: float = HELLO_TIMEOUT_S) -> None:
        import zmq

        self.address = address
        self._listeners: list[Listener] = []
        self._held: list[ev.Event] = []  # events that came before any listener
        self._listen_lock = threading.Lock()
        self._outbox: queue.Queue[list[bytes] | None] = queue.Queue()
        self._waker = _Waker()
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 500)
        self._socket.connect(f"tcp://{address}")
        self._socket.send_multipart([b"hello", token.encode()])
        if not self._socket.poll(int(timeout * 1000)):
            self._socket.close(0)
            self._context.term()
            self._waker.close()
            raise ConnectionError(f"no engine answered at {address} within {timeout:.0f} s")
        answer = self._socket.recv_multipart()
        if answer[0] != b"welcome":
            self._socket.close(0)
            self._context.term()
            self._waker.close()
            reason = answer[1].decode() if len(answer) > 1 else "refused"
            raise PermissionError(f"the engine at {address} refused to attach: {reason}")
        self._closed = False
        self._arriving: _Assembly | None = None  # a chunked event, part by part
        self._gone = False  # the engine said it ended, or its connection closed
        self._thread = threading.Thread(target=self._io, name="graphstep-client", daemon=True)
        self._thread.start()

    def add_listener(self, listener: Listener) -> None:
        """Hear the events from now on; the first listener also gets those that came
        before it (an engine replays its model's `Loaded` as a client attaches)."""
        with self._listen_lock:
            held, self._held = self._held, []
            self._listeners.append(listener)
        for event in held:
            listener(event)

    def send(self, command: cmds.Command) -> None:
        if not self._closed:
            self._outbox.put(_frames(b"cmd", command))
            self._waker.wake()

    def close(self, timeout: float = 5.0) -> None:
        """Shut the engine down and end the connection."""
        self._end([b"cmd", *_frames(b"cmd", cmds.Shutdown())[1:]], timeout)

    def detach(self, timeout: float = 5.0) -> None:
        """End the connection; the engine keeps running for another client."""
        self._end([b"bye"], timeout)

    def _end(self, last: list[bytes], timeout: float) -> None:
        if self._closed:
            return
        self._outbox.put(last)
        self._outbox.put(None)
        self._waker.wake()
        self._closed = True
        self._thread.join(timeout)

    def _begin(self, header: bytes, sizes: bytes) -> _Assembly | None:
        try:
            counts = json.loads(sizes.decode())
            if not (
                isinstance(counts, list) and all(isinstance(n, int) and n >= 0 for n in counts)
            ):
                raise ValueError("not a list of sizes")
            return _Assembly(header, counts)
        except (ValueError, UnicodeDecodeError) as exc:
            self._emit(ev.Message("error", f"An event could not be read: {exc}"))
            return None

    def _read(self, frames: list[Any]) -> None:
        try:
            self._emit(_unframe(frames))
        except (ValueError, TypeError, KeyError) as exc:
            self._emit(ev.Message("error", f"An event could not be read: {exc}"))

    def _emit(self, event: ev.Event) -> None:
        if isinstance(event, ev.EngineDied):
            if self._gone:
                return  # said once (the engine's own word comes before its connection closes)
            self._gone = True
        with self._listen_lock:
            if not self._listeners:
                self._held.append(event)
                return
            listeners = tuple(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                traceback.print_exc()

    def _io(self) -> None:
        import zmq

        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        poller.register(self._waker.fd, zmq.POLLIN)
        # the connection closing is the engine's process ending (killed, crashed, exited
        # without a word): said once, as an `EngineDied`
        monitor = self._socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        poller.register(monitor, zmq.POLLIN)
        try:
            while True:
                ready = dict(poller.poll(int(IDLE_S * 1000)))
                if self._waker.fd in ready:
                    self._waker.drain()
                if monitor in ready:
                    monitor.recv_multipart()
                    # what the engine sent before it went comes first (its own EngineDied
                    # says how it ended); `_emit` lets one EngineDied by
                    while self._socket.poll(0, zmq.POLLIN):
                        self._receive(self._socket.recv_multipart())
                    self._emit(
                        ev.EngineDied(-1, "its connection closed (the engine process ended)")
                    )
                while True:  # commands first: a Pause must not wait behind a stream of events
                    try:
                        out = self._outbox.get_nowait()
                    except queue.Empty:
                        break
                    if out is None:
                        return
                    self._socket.send_multipart(out, copy=False)
                for _ in range(BATCH):
                    if not self._socket.poll(0, zmq.POLLIN):
                        break
                    self._receive(self._socket.recv_multipart())
        finally:
            with contextlib.suppress(Exception):
                self._socket.disable_monitor()
            monitor.close(0)
            self._socket.close()
            self._context.term()
            self._waker.close()

    def _receive(self, frames: list[bytes]) -> None:
        kind = frames[0] if frames else b""
        if kind == b"steps" and len(frames) >= 7:
            try:
                with _no_gc():
                    steps = wire.decode_steps(json.loads(frames[1].decode()), frames[2:])
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                self._emit(ev.Message("error", f"Node events could not be read: {exc}"))
                return
            for step in steps:
                self._emit(step)
        elif kind == b"big" and len(frames) == 4:
            self._arriving = self._begin(frames[2], frames[3])
        elif kind == b"part" and self._arriving is not None:
            arriving = self._arriving
            whole = arriving.add(frames[2] if len(frames) > 2 else b"")
            self._emit(ev.Receiving(arriving.what, arriving.received, arriving.total))
            if whole:
                self._arriving = None
                self._read([arriving.header, *arriving.buffers])
        elif kind == b"evt":
            self._read(frames[1:])


#: The shared block an engine process writes its last finished node into.
PROGRESS_ENV = "GRAPHSTEP_PROGRESS_BLOCK"
PROGRESS_BYTES = 256

#: What an engine process prints first: the address and the token to attach with.
READY_PREFIX = "graphstep engine listening on "


class ProcessEngine:
    """An `EngineClient` whose engine runs in a child process of its own.

    Every `Load` starts a fresh process, so a model never shares one with the model
    before it. When the process dies (a signal, an exit, out of memory) an
    `EngineDied` event says how and after which node; the next command that needs a
    model starts a new one. `CancelLoad` ends the loading process at once, and
    `EndEngine` ends a process that does not answer. The value budget and the
    plumbing switch are sent again to every new process.
    """

    def __init__(self, *, python: str | None = None) -> None:
        self.python = python or sys.executable
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._process: subprocess.Popen[str] | None = None
        self._client: RemoteClient | None = None
        self._sticky: dict[type, cmds.Command] = {}  # SetBudget, SetStepPlumbing
        self._last_node: str | None = None  # the last node the process reported
        self._loading: tuple[int, str] | None = None  # (job, spec) of a load under way
        self._ending = False
        self._closed = False
        self._block: Any = None  # the shared block of the running process's progress
        #: A process died inside a run as one call: the next ones run op by op, so the
        #: op that brings the process down is the node it last reported.
        self.op_by_op = False

    # ---------------------------------------------------------------- the contract

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def send(self, command: cmds.Command) -> None:
        if self._closed:
            return
        if isinstance(command, cmds.SetBudget | cmds.SetStepPlumbing):
            self._sticky[type(command)] = command
        if isinstance(command, cmds.Load):
            self._start_process()
            self._loading = (command.job, command.spec)
        elif isinstance(command, cmds.CancelLoad):
            loading = self._loading
            if loading is not None and self._client is not None:
                self._end_process()
                self._emit(ev.LoadCancelled(loading[0], ""))
                self._emit(ev.LoadStopped(loading[1], "at once: its engine process was ended"))
                return
        elif isinstance(command, cmds.EndEngine):
            if self._process is not None and self._process.poll() is None:
                self._end_process(reason="ended by you")
            return
        elif isinstance(command, cmds.Shutdown):
            self.close()
            return
        client = self._client
        if client is None:  # settings wait in `_sticky`; what needs a model is refused
            if isinstance(command, (*cmds.RUN_COMMANDS, cmds.FetchValue, cmds.FetchInputs)):
                self._emit(ev.Message("info", "No engine is running: open a model first."))
            return
        client.send(command)

    def close(self, timeout: float = 5.0) -> None:
        self._closed = True
        self._end_process(timeout=timeout)

    # ---------------------------------------------------------------- the process

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def resident_memory(self) -> int:
        """The engine process's resident memory now, in bytes (0 when none runs): read
        from the system, so it is live while the model runs."""
        from inspectors.procinfo import resident_memory

        pid = self.pid
        return resident_memory(pid) if pid is not None else 0

    def _start_process(self) -> None:
        self._end_process()
        from multiprocessing import shared_memory

        block = shared_memory.SharedMemory(create=True, size=PROGRESS_BYTES)
        assert block.buf is not None
        block.buf[0] = 0
        self._block = block
        env = self.environment(block.name)
        process = subprocess.Popen(
            [self.python, "-m", "inspectors.serve_engine"],
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            env=env,
        )
        line = process.stdout.readline() if process.stdout else ""
        if process.stdout is not None:
            process.stdout.close()  # the engine prints nothing more there
        if not line.startswith(READY_PREFIX):
            process.kill()
            self._emit(ev.Message("error", f"The engine process did not start: {line.strip()}"))
            return
        address, _, token = line[len(READY_PREFIX) :].strip().partition(" token ")
        client = RemoteClient(address, token)
        client.add_listener(self._on_event)
        with self._lock:
            self._process, self._client = process, client
            self._ending = False
            self._last_node = None
        for command in self._sticky.values():
            client.send(command)
        threading.Thread(
            target=self._watch, args=(process, client), name="graphstep-watch", daemon=True
        ).start()

    def environment(self, block: str) -> dict[str, str]:
        """The environment of a new engine process (`block`: its progress block)."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", PROGRESS_ENV: block}
        if self.op_by_op:
            env["GRAPHSTEP_TF_OP_BY_OP"] = "1"
        return env

    def _died(self, died: ev.EngineDied) -> None:
        if died.in_one_call:
            self.op_by_op = True
        self._emit(died)

    def _end_process(self, timeout: float = 5.0, reason: str = "") -> None:
        with self._lock:
            process, client = self._process, self._client
            self._process, self._client = None, None
            self._loading = None
            self._ending = True
        if client is not None:
            with contextlib.suppress(Exception):
                client.detach(timeout=0.5)
        if process is not None and process.poll() is None:
            process.kill()  # the model's own code may hold the process: no grace
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        if reason and process is not None:
            self._died(engine_died(process.returncode or 0, reason, self._last_run()))
        self._free_block()

    def _last_run(self) -> str | None:
        """The last node the engine process finished: from its shared block (written
        node by node), else from the events it sent."""
        block = self._block
        if block is not None and block.buf[0]:
            return bytes(block.buf[1 : 1 + block.buf[0]]).decode(errors="replace")
        return self._last_node

    def _free_block(self) -> None:
        block, self._block = self._block, None
        if block is not None:
            with contextlib.suppress(Exception):
                block.close()
                block.unlink()

    def _watch(self, process: subprocess.Popen[str], client: RemoteClient) -> None:
        """A waiting thread: says so when the engine process dies on its own."""
        code = process.wait()
        with self._lock:
            mine = self._process is process and not self._ending
            if mine:
                self._process, self._client = None, None
                self._loading = None
        if not mine:
            return
        with contextlib.suppress(Exception):
            client.detach(timeout=0.2)
        self._died(engine_died(code, how_it_ended(code), self._last_run()))
        self._free_block()

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.EngineDied):
            return  # the connection's word for it: `_watch` says how the process ended
        if isinstance(event, ev.NodeStepped) or isinstance(event, ev.Paused) and event.node_id:
            self._last_node = event.node_id
        elif isinstance(event, ev.Loaded | ev.LoadFailed):
            self._loading = None
        self._emit(event)

    def _emit(self, event: ev.Event) -> None:
        tell(self._listeners, event)


def engine_died(code: int, how: str, last: str | None) -> ev.EngineDied:
    """An `EngineDied` from what the session's progress said last (a node's id, or the
    mark that breakpoint expressions were running after one)."""
    from inspectors.session import BREAKPOINT_MARK, ONE_CALL_MARK

    if last is not None and last.startswith(BREAKPOINT_MARK):
        return ev.EngineDied(code, how, last[len(BREAKPOINT_MARK) :] or None, in_breakpoint=True)
    if last == ONE_CALL_MARK:
        return ev.EngineDied(code, how, None, in_one_call=True)
    return ev.EngineDied(code, how, last or None)


def how_it_ended(code: int) -> str:
    """An exit status in words: `killed by SIGSEGV (a crash in native code)`."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = {
            "SIGSEGV": " (a crash in native code)",
            "SIGKILL": " (often: out of memory)",
            "SIGABRT": " (an abort in native code)",
        }.get(name, "")
        return f"killed by {name}{why}"
    return f"exited with status {code}"


#: The exit status of an engine process ended by a client (`EndEngine`).
EXIT_ENDED = 3


def exit_now(code: int) -> NoReturn:
    """End this process at once: a model stuck in its own code holds threads that
    interpreter shutdown would wait for forever."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def serve_forever(server: EngineServer, *, parent: int | None = None) -> int:
    """Run `server` until a client shuts the engine down, Ctrl+C, or (with `parent`)
    the process that started it is gone."""
    server.start()
    farewell = ""
    try:
        while not server.ended.wait(0.2):
            if parent is not None and os.getppid() != parent:
                break  # the window that owned this engine is gone
    except KeyboardInterrupt:
        farewell = "stopped where it runs (Ctrl+C)"
    finally:
        # an attached client hears first, then the engine ends; a model stuck in its
        # own code is not waited for
        server.stop(farewell=farewell or "stopped where it runs")
        server.engine.close(timeout=1.0)
    return 0


__all__ = [
    "EngineServer",
    "ProcessEngine",
    "READY_PREFIX",
    "CHUNK_BYTES",
    "TOKEN_ENV",
    "RemoteClient",
    "how_it_ended",
    "new_token",
    "serve_forever",
    "exit_now",
]
