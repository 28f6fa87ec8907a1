"""The storage operations a check performs, over davs:// and root://, each under a deadline.

gfal2 (in-process, one context per thread) does the namespace and data operations on both protocols and
HTTP third-party copy; root:// third-party copy goes through XRootD's own CopyProcess with TPC required,
so that a copy streamed through the client can never pass for TPC. Every failure is raised as a
ProbeFailure with a precise error class.
"""
import contextlib
import os
import queue
import stat
import time
import zlib
from dataclasses import dataclass

import gfal2
import requests
from XRootD import client as xrd_client

from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ProbeFailure, classify
from lakeprobe.slots import Slots
from lakeprobe.tokens import TokenProvider

gfal2.set_verbose(gfal2.verbose_level.warning)


def adler32_of(data: bytes) -> str:
    return f"{zlib.adler32(data) & 0xFFFFFFFF:08x}"


@dataclass
class Timed:
    value: object
    seconds: float


class Storage:
    """Operations on one lake's endpoints with one token client (by default `probe`).

    Given the RSEs, an operation gets the deadline of the RSEs it touches (the longest, for a copy) and,
    given Slots, holds one of their operation slots while it runs.
    """

    def __init__(self, tokens: TokenProvider, timeout_s: float = 60.0, client: str = "probe",
                 rses: list | None = None, slots: Slots | None = None):
        self.tokens, self.timeout_s, self.client, self.slots = tokens, timeout_s, client, slots
        self._rse_at = {_endpoint(base): rse for rse in rses or [] for base in rse.protocols.values()}
        self._contexts = queue.SimpleQueue()  # gfal2 contexts, each used by one call at a time

    # -- plumbing ----------------------------------------------------------------------------------
    def _context(self, timeout_s: float):
        """A gfal2 context from the pool (making one loads every plugin: far dearer than most operations)."""
        try:
            ctx = self._contexts.get_nowait()
        except queue.Empty:
            ctx = gfal2.creat_context()
        seconds = max(1, int(timeout_s))
        for group in ("CORE", "HTTP PLUGIN", "XROOTD PLUGIN"):
            for option in ("NAMESPACE_TIMEOUT", "OPERATION_TIMEOUT", "CHECKSUM_TIMEOUT"):
                try:
                    ctx.set_opt_integer(group, option, seconds)
                except gfal2.GError:
                    pass  # not every plugin knows every timeout
        return ctx

    def _authorize(self, ctx, *urls):
        token = self.tokens.token(self.client)
        # root:// in gfal2 and XrdCl reads only BEARER_TOKEN from the environment; davs takes a credential
        # per URL. Both are set for every operation so that a renewed token is used at once.
        os.environ["BEARER_TOKEN"] = token
        for url in urls:
            if url.startswith(("davs://", "https://")):
                ctx.cred_set(_endpoint(url), ctx.cred_new("BEARER", token))

    def _op(self, what: str, url: str, fn, *more_urls) -> Timed:
        rses = [self._rse_at[e] for e in map(_endpoint, (url, *more_urls)) if e in self._rse_at]
        deadline = max([r.timeout_s for r in rses if r.timeout_s] or [self.timeout_s])

        def run():
            ctx = self._context(deadline)
            try:
                self._authorize(ctx, url, *more_urls)
                return fn(ctx, int(deadline))
            finally:  # back to the pool when the call is over, which for an abandoned call may be never
                self._contexts.put(ctx)

        with self.slots.held([r.name for r in rses], deadline) if self.slots else contextlib.nullcontext():
            started = time.monotonic()
            try:
                value = call_with_deadline(run, deadline, f"{what} {url}")
            except gfal2.GError as e:
                raise ProbeFailure(classify(e.message, e.code), f"{what}: {e.message.strip()}") from None
            return Timed(value, time.monotonic() - started)

    # -- operations ------------------------------------------------------------------------------------
    def mkdir(self, url: str) -> Timed:
        def mkdir(ctx, seconds):
            try:
                ctx.mkdir_rec(url, 0o755)
            except gfal2.GError as e:
                if "exist" in e.message.lower():
                    return
                self._explain_davs(e, "mkdir", "MKCOL", url)
                raise
        return self._op("mkdir", url, mkdir)

    def _explain_davs(self, error: gfal2.GError, what: str, method: str, url: str):
        """gfal2 reports some refusals as a bare HTTP status; the server's own reason is in the response
        body. For such a failure one plain request of the same kind is sent to read it."""
        if not url.startswith("davs://") or classify(error.message, error.code) != "unknown":
            return
        try:
            reply = requests.request(method, "https://" + url.split("://", 1)[1], timeout=self.timeout_s,
                                     verify=os.environ.get("X509_CERT_DIR") or True,
                                     headers={"Authorization": f"Bearer {self.tokens.token(self.client)}"})
            reason = f"HTTP {reply.status_code}: {reply.text.strip()[:200]}"
        except requests.RequestException as e:
            reason = type(e).__name__
        raise ProbeFailure(classify(reason), f"{what}: {error.message.strip()}; server says {reason}") from None

    def upload(self, local_path: str, url: str, adler32: str | None) -> Timed:
        def upload(ctx, seconds):
            params = ctx.transfer_parameters()
            params.overwrite, params.timeout = True, seconds
            if adler32:
                params.set_checksum(gfal2.checksum_mode.target, "adler32", adler32)
            ctx.filecopy(params, f"file://{local_path}", url)
        return self._op("upload", url, upload)

    def stat(self, url: str) -> Timed:
        return self._op("stat", url, lambda ctx, _: ctx.stat(url).st_size)

    def is_dir(self, url: str) -> bool:
        return self._op("stat", url, lambda ctx, _: stat.S_ISDIR(ctx.stat(url).st_mode)).value

    def checksum(self, url: str) -> Timed:
        return self._op("checksum", url, lambda ctx, _: ctx.checksum(url, "adler32").lower().rjust(8, "0"))

    def download(self, url: str, local_path: str) -> Timed:
        def download(ctx, seconds):
            params = ctx.transfer_parameters()
            params.overwrite, params.timeout = True, seconds
            ctx.filecopy(params, url, f"file://{local_path}")
        return self._op("download", url, download)

    def listdir(self, url: str) -> Timed:
        return self._op("list", url, lambda ctx, _: ctx.listdir(url))

    def delete(self, url: str) -> Timed:
        return self._op("delete", url, lambda ctx, _: ctx.unlink(url))

    def rmdir(self, url: str) -> Timed:
        return self._op("rmdir", url, lambda ctx, _: ctx.rmdir(url))

    def http_tpc(self, source: str, destination: str, mode: str, adler32: str) -> Timed:
        """HTTP third-party copy, `pull` (destination fetches) or `push` (source sends); no fallback."""
        def copy(ctx, seconds):
            ctx.set_opt_boolean("HTTP PLUGIN", "ENABLE_FALLBACK_TPC_COPY", False)
            ctx.set_opt_string("HTTP PLUGIN", "DEFAULT_COPY_MODE", f"3rd {mode}")
            params = ctx.transfer_parameters()
            params.overwrite, params.timeout = True, seconds
            params.set_checksum(gfal2.checksum_mode.target, "adler32", adler32)
            ctx.filecopy(params, source, destination)
        return self._op(f"davs TPC {mode}", destination, copy, source)

    def root_tpc(self, source: str, destination: str, adler32: str) -> Timed:
        """root:// third-party copy, TPC required, checksum verified end to end."""
        def copy(ctx, seconds):
            process = xrd_client.CopyProcess()
            process.add_job(source, destination, thirdparty="only", force=True, checksummode="end2end",
                            checksumtype="adler32", tpctimeout=seconds)
            status = process.prepare()
            if status.ok:
                status, results = process.run()
                job = results[0].get("status") if results else status
                status = job if job is not None and not job.ok else status
            if not status.ok:
                raise ProbeFailure(classify(status.message, status.errno), f"root TPC: {status.message.strip()}")
        return self._op("root TPC", destination, copy, source)


def _endpoint(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}/"
