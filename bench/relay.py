"""User-space delaying relays for bench/bench_regions.py.

This VM's kernel has no netem, so every simulated network link is a relay
in this process: it listens on a loopback address, forwards to the real
server on loopback, and holds every chunk (TCP) or datagram (UDP) for the
link's one-way delay in each direction. All links run on one asyncio loop
in a background thread (RelayHub).

Model, per link (one-way delay d = RTT / 2):
  TCP  - data keeps its order in each direction; a chunk read at time t is
         delivered at max(t + d + jitter, previous chunk's delivery).
       - the three-way handshake: the client's connect() completes at once
         on loopback, but a real client could send its first byte only one
         RTT after starting to connect, so the first data of a new
         connection is delivered no earlier than accept + handshake_rtts *
         RTT + d. The coordinator links use plain HTTP, so 1 RTT (TCP); a
         TLS 1.3 hop would cost one more (handshake_rtts=2).
       - loss (probability p per chunk): TCP retransmits, so nothing is
         dropped; the chunk is delayed by one retransmission timeout more,
         modelled as RTT + 200 ms (Linux: srtt + max(4 rttvar, 200 ms)).
         A new connection loses its SYN or SYN-ACK with probability 2p:
         1 s more (Linux's initial RTO).
       - a close (EOF) travels like data, after what was sent before it.
  UDP  - every datagram is dropped with probability p, else delivered after
         d + jitter (datagrams may be reordered by jitter).
  jitter: uniform in [0, jitter] added per chunk or datagram.
  blackhole: nothing is forwarded in either direction; new TCP connections
         are accepted and then held silent until the client gives up.

Counters per link: new TCP connections, datagrams each way, drops,
retransmission events, and the lateness of every delivery (how long after
its due time the loop actually sent it), which shows whether this Python
relay keeps up.

Nothing here leaves 127.0.0.0/8: listen and upstream addresses are
checked.
"""

import asyncio
import collections
import ipaddress
import random
import socket
import struct
import threading
import time

TCP_RTO_MIN_S = 0.2
TCP_SYN_RTO_S = 1.0
UDP_IDLE_S = 5.0  # an answer comes within a second; retries use new ports
LATENESS_CAP = 200000


def _loopback(addr):
    if not ipaddress.ip_address(addr[0]).is_loopback:
        raise ValueError("relay address %s is not loopback" % (addr,))
    return addr


class Link:
    """One simulated link. delay/jitter/loss/blackhole may be changed at
    any time from another thread (plain attribute writes)."""

    def __init__(self, name, kind, listen, upstream, rtt_s, jitter_s=0.0,
                 loss=0.0, handshake_rtts=1, rewrite=None, tags=None):
        self.name = name
        self.kind = kind  # "tcp" or "udp"
        self.listen = _loopback(listen)
        self.upstream = _loopback(upstream)
        self.rtt_s = rtt_s
        self.jitter_s = jitter_s
        self.loss = loss
        self.handshake_rtts = handshake_rtts
        # rewrite(bytes) -> bytes, applied to each DNS message from the
        # server (UDP datagram, or TCP frame after its length prefix).
        self.rewrite = rewrite
        self.tags = dict(tags or {})
        self.blackhole = False
        self.new_conns = 0
        self.open_conns = 0
        self.dgrams_up = 0      # client -> server datagrams received
        self.dgrams_down = 0    # server -> client datagrams received
        self.dropped = 0        # datagrams dropped (loss or blackhole)
        self.rto_events = 0     # TCP chunks or handshakes given an RTO
        self.chunks = 0         # TCP chunks forwarded
        self.lateness = []      # seconds, per delivery

    @property
    def delay_s(self):
        return self.rtt_s / 2.0

    def one_way(self, rng):
        j = rng.uniform(0.0, self.jitter_s) if self.jitter_s > 0 else 0.0
        return self.delay_s + j

    def counters(self):
        return {"new_conns": self.new_conns, "dgrams_up": self.dgrams_up,
                "dgrams_down": self.dgrams_down, "dropped": self.dropped,
                "rto_events": self.rto_events, "chunks": self.chunks}


# ---------------------------------------------------------------- TCP

_EOF = object()


class _Dir:
    """One direction of a relayed TCP connection: a FIFO of (due, data)
    delivered by one timer per entry (asyncio does not order timers that
    share a due time, so each timer sends the head, not its own entry)."""

    def __init__(self, hub, link):
        self.hub = hub
        self.link = link
        self.q = collections.deque()
        self.last_due = 0.0
        self.dst = None       # transport to write to, once known
        self.waiting = []     # due entries before dst exists
        self.closed = False

    def push(self, data, not_before=0.0):
        loop = self.hub.loop
        link = self.link
        now = loop.time()
        due = max(now, not_before) + link.one_way(self.hub.rng)
        if data is not _EOF and link.loss > 0 and \
                self.hub.rng.random() < link.loss:
            due += link.rtt_s + TCP_RTO_MIN_S
            link.rto_events += 1
        due = max(due, self.last_due)
        self.last_due = due
        self.q.append((due, data))
        loop.call_at(due, self._fire)

    def _fire(self):
        if not self.q:
            return
        due, data = self.q.popleft()
        late = self.hub.loop.time() - due
        if len(self.link.lateness) < LATENESS_CAP:
            self.link.lateness.append(max(0.0, late))
        if self.dst is None:
            self.waiting.append(data)
            return
        self._send(data)

    def attach(self, transport):
        self.dst = transport
        for data in self.waiting:
            self._send(data)
        self.waiting = []

    def _send(self, data):
        if self.closed or self.dst is None:
            return
        if data is _EOF:
            self.closed = True
            self.dst.close()
            return
        if self.link.blackhole:
            return
        self.link.chunks += 1
        self.dst.write(data)


class _Server(asyncio.Protocol):
    """The relay's connection to the real server."""

    def __init__(self, pair):
        self.pair = pair
        self.transport = None
        self.buf = b""

    def connection_made(self, transport):
        self.transport = transport
        self.pair.hub.transports.add(transport)
        self.pair.up_made(transport)

    def data_received(self, data):
        link = self.pair.link
        if link.blackhole:
            return
        if link.rewrite is not None:
            # DNS over TCP: rewrite whole length-prefixed messages.
            self.buf += data
            out = b""
            while len(self.buf) >= 2:
                n, = struct.unpack("!H", self.buf[:2])
                if len(self.buf) < 2 + n:
                    break
                msg = link.rewrite(self.buf[2:2 + n])
                out += struct.pack("!H", len(msg)) + msg
                self.buf = self.buf[2 + n:]
            if out:
                self.pair.down.push(out)
            return
        self.pair.down.push(data)

    def eof_received(self):
        self.pair.down.push(_EOF)

    def connection_lost(self, exc):
        self.pair.hub.transports.discard(self.transport)
        self.pair.down.push(_EOF)


class _Client(asyncio.Protocol):
    """A connection accepted from the client side of a TCP link."""

    def __init__(self, hub, link):
        self.hub = hub
        self.link = link
        self.up = _Dir(hub, link)     # client -> server
        self.down = _Dir(hub, link)   # server -> client
        self.transport = None
        self.ready_at = 0.0
        self.silent = False

    def connection_made(self, transport):
        link = self.link
        self.transport = transport
        self.hub.transports.add(transport)
        link.new_conns += 1
        link.open_conns += 1
        self.down.attach(transport)
        try:
            transport.get_extra_info("socket").setsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        if link.blackhole:
            self.silent = True
            return
        # The first byte can leave the client only after the handshake.
        hs = link.handshake_rtts * link.rtt_s
        if link.loss > 0 and self.hub.rng.random() < 2 * link.loss:
            hs += TCP_SYN_RTO_S
            link.rto_events += 1
        self.ready_at = self.hub.loop.time() + hs
        self.hub.loop.create_task(self._connect())

    async def _connect(self):
        try:
            await self.hub.loop.create_connection(
                lambda: _Server(self), self.link.upstream[0],
                self.link.upstream[1])
        except OSError:
            self.down.push(_EOF)

    def up_made(self, transport):
        try:
            transport.get_extra_info("socket").setsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        self.up.attach(transport)

    def data_received(self, data):
        if self.silent or self.link.blackhole:
            return
        self.up.push(data, self.ready_at)

    def eof_received(self):
        if not self.silent:
            self.up.push(_EOF, self.ready_at)

    def connection_lost(self, exc):
        self.hub.transports.discard(self.transport)
        self.link.open_conns -= 1
        self.down.closed = True
        if not self.silent:
            self.up.push(_EOF, self.ready_at)


# ---------------------------------------------------------------- UDP


class _UdpLink:
    """A UDP link: one listening socket; one upstream socket per client
    address (so answers find their way back), closed after UDP_IDLE_S."""

    def __init__(self, hub, link):
        self.hub = hub
        self.link = link
        self.sock = None
        self.ups = {}  # client addr -> [socket, last use]

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind(self.link.listen)
        s.setblocking(False)
        self.sock = s
        self.hub.loop.add_reader(s.fileno(), self._from_client)

    def _deliver(self, due, fn):
        late = self.hub.loop.time() - due
        if len(self.link.lateness) < LATENESS_CAP:
            self.link.lateness.append(max(0.0, late))
        try:
            fn()
        except OSError:
            pass

    def _schedule(self, fn):
        loop = self.hub.loop
        due = loop.time() + self.link.one_way(self.hub.rng)
        loop.call_at(due, self._deliver, due, fn)

    def _lost(self):
        link = self.link
        if link.blackhole or (link.loss > 0 and
                              self.hub.rng.random() < link.loss):
            link.dropped += 1
            return True
        return False

    def _from_client(self):
        link = self.link
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            link.dgrams_up += 1
            if self._lost():
                continue
            up = self.ups.get(addr)
            if up is None:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.connect(link.upstream)
                s.setblocking(False)
                up = [s, 0.0]
                self.ups[addr] = up
                self.hub.loop.add_reader(s.fileno(), self._from_server,
                                         addr, s)
            up[1] = time.monotonic()
            self._schedule(lambda s=up[0], d=data: s.send(d))

    def _from_server(self, addr, s):
        link = self.link
        while True:
            try:
                data = s.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            link.dgrams_down += 1
            if self._lost():
                continue
            if link.rewrite is not None:
                data = link.rewrite(data)
            self._schedule(lambda d=data: self.sock.sendto(d, addr))

    def sweep(self):
        now = time.monotonic()
        for addr, (s, last) in list(self.ups.items()):
            if now - last > UDP_IDLE_S:
                self.hub.loop.remove_reader(s.fileno())
                s.close()
                del self.ups[addr]

    def close(self):
        for s, _ in self.ups.values():
            self.hub.loop.remove_reader(s.fileno())
            s.close()
        self.ups = {}
        if self.sock is not None:
            self.hub.loop.remove_reader(self.sock.fileno())
            self.sock.close()


# ---------------------------------------------------------------- hub


class RelayHub:
    """Runs every link on one asyncio loop in a daemon thread."""

    def __init__(self, seed=None):
        self.links = []
        self.rng = random.Random(seed)
        self.loop = asyncio.new_event_loop()
        self._thread = None
        self._servers = []
        self._udp = []
        self._sweeper = None
        self.transports = set()  # every relayed connection, both sides

    def add(self, link):
        self.links.append(link)
        return link

    def start(self):
        self._thread = threading.Thread(target=self._run, name="relays",
                                        daemon=True)
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._open(), self.loop)
        fut.result(30)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def _open(self):
        for link in self.links:
            if link.kind == "tcp":
                srv = await self.loop.create_server(
                    lambda link=link: _Client(self, link), link.listen[0],
                    link.listen[1], reuse_address=True, backlog=512)
                self._servers.append(srv)
            else:
                u = _UdpLink(self, link)
                u.start()
                self._udp.append(u)
        self._sweeper = self.loop.create_task(self._sweep())

    async def _sweep(self):
        while True:
            await asyncio.sleep(5)
            for u in self._udp:
                u.sweep()

    def call(self, fn, timeout=10):
        """Runs fn() on the relay loop and returns its result."""
        async def run():
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(
            timeout)

    def stop(self):
        if self._thread is None:
            return

        async def close():
            if self._sweeper is not None:
                self._sweeper.cancel()
            for srv in self._servers:
                srv.close()
            for u in self._udp:
                u.close()
            for t in list(self.transports):
                t.abort()
            # Abort every relayed connection still open.
            for t in asyncio.all_tasks(self.loop):
                if t is not asyncio.current_task():
                    t.cancel()

        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        except Exception:  # noqa: BLE001 - stopping anyway
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self._thread = None

    def mark(self):
        """Where every link's lateness list ends now (for late_since)."""
        return [len(link.lateness) for link in self.links]

    def late_since(self, mark):
        """The largest lateness of deliveries since mark (seconds)."""
        worst = 0.0
        for link, n in zip(self.links, mark):
            new = link.lateness[n:]
            if new:
                worst = max(worst, max(new))
        return worst

    def clear_lateness(self):
        for link in self.links:
            link.lateness = []

    def lateness(self):
        """Every delivery's lateness in seconds, all links."""
        out = []
        for link in self.links:
            out.extend(link.lateness)
        return out


# ---------------------------------------------------------------- DNS


def _skip_name(msg, pos):
    while True:
        n = msg[pos]
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += 1
        if n == 0:
            return pos
        pos += n


def rewrite_a(old, new):
    """A rewrite function for DNS answers: every A record whose address is
    `old` gets `new` instead (both dotted quads). A message that does not
    parse passes unchanged."""
    old_b = socket.inet_aton(old)
    new_b = socket.inet_aton(new)

    def rw(msg):
        if old_b not in msg:
            return msg
        try:
            qd, an, ns, ar = struct.unpack("!HHHH", msg[4:12])
            pos = 12
            for _ in range(qd):
                pos = _skip_name(msg, pos) + 4
            out = bytearray(msg)
            for _ in range(an + ns + ar):
                pos = _skip_name(msg, pos)
                rtype, _, _, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
                pos += 10
                if rtype == 1 and rdlen == 4 and msg[pos:pos + 4] == old_b:
                    out[pos:pos + 4] = new_b
                pos += rdlen
            if pos > len(msg):
                return msg
            return bytes(out)
        except (IndexError, struct.error):
            return msg

    return rw
