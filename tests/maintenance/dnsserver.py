"""A tiny authoritative DNS server on 127.0.0.1 for probe tests (dnspython + a UDP thread)."""

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class LoopbackDNS:
    """Answers A queries from a dict {name: ([addresses], ttl)}; NXDOMAIN otherwise."""

    def __init__(self, records):
        self.records = {name.rstrip(".").lower(): value for name, value in records.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self._stop = threading.Event()
        self.sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            self.queries.append(name)
            if name in self.records and question.rdtype == dns.rdatatype.A:
                addresses, ttl = self.records[name]
                reply.answer.append(
                    dns.rrset.from_text_list(question.name, ttl, "IN", "A", addresses)
                )
                reply.flags |= dns.flags.AA
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), peer)
