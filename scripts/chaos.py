#!/usr/bin/env python3
"""Chaos run for toq-media: two `serve` processes on one database, one SIGKILLed at random.
With --aws: S3 and SQS emulators, the two `serve` processes without their worker, and one
`toq-media worker`, any of the three SIGKILLed.

What it proves: under a mixed client load (listing registrations, batch creates, signed uploads,
completes, status polls, downloads, retries, and pipeline results sent as signed callbacks,
including stale and duplicate ones), killing either process at any instant and restarting it
loses nothing and corrupts nothing. Clients fail over to the other process on connection errors,
as a load balancer would. After the killing stops and the system settles it checks:

  1. `toq-media projections verify` and `toq-media audit verify` exit 0 (read tables equal the
     fold of the events; every hash chain is intact);
  2. every batch whose complete (or retry) was accepted reaches READY or FAILED (FAILED with a
     failure code and message) within the settle timeout, and every batch created with 201
     still exists (no acknowledged write lost);
  3. no job was processed twice to different results: for each (batch, job, asset) every
     AssetProcessed event in the `events` table carries the same outcome;
  4. no object lost: every READY batch's raw objects and renditions exist under
     <data dir>/objects/<key>, and every download URL (all five resolutions) answers 200 with
     the right bytes (originals byte-identical to the uploaded fixture, renditions JPEG or PNG);
  5. stale or duplicate results sent by the driver (an older attempt's job, a second SUCCEEDED
     or FAILED for a finished job) changed nothing in the batch, and every answer the clients
     got is one the contract promises for that request (a command resent after a cut connection
     may legitimately find itself already applied: those cases are resolved, not counted);
  6. no client flow was abandoned: none gave up because no process answered, and every batch
     created was completed;
  7. no request was answered with a 5xx (it is resent, so the flow goes on, but counted);
  8. no asset-attempt (job, asset) was rendered twice unless a crash explains it, even when the
     aggregate dropped the second result: the workers' "asset processed"/"asset failed" log
     lines are counted per process instance, and an extra render is explained only by an
     instance SIGKILLed before it acknowledged the job ("job handled").

--expect-fail FAULT proves checks 6-8 can fail: it turns a fault on (TOQ_MEDIA_FAULT in the
servers, or a long outage) and exits 0 only if the check that fault breaks failed.

Python 3 standard library only. Usually started through `scripts/chaos` (which builds first).
--db mysql and --db postgres use a fresh `toq_chaos` database on the local MariaDB/PostgreSQL;
--aws runs `scripts/aws-emulator start` (reusing running emulators) and makes queues of its own.
The run's data dir, server logs and command outputs live under target/chaos/<run>/.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v2/listings/media"
PORTS = (18101, 18102)
DB_NAME = "toq_chaos"  # on the MariaDB or PostgreSQL server
MAX_ATTEMPTS = 5  # the service's default TOQ_MEDIA_MAX_ATTEMPTS
RESOLUTIONS = ("thumbnail", "small", "medium", "large", "original")
# (file under tests/fixtures, content type, asset type)
FIXTURES = [
    ("living-room.jpg", "image/jpeg", "PHOTO_HORIZONTAL"),
    ("kitchen-portrait.jpg", "image/jpeg", "PHOTO_VERTICAL"),
    ("balcony-exif-orientation-6.jpg", "image/jpeg", "PHOTO_VERTICAL"),
    ("floorplan-alpha.png", "image/png", "PHOTO_HORIZONTAL"),
]
TERMINAL = ("READY", "FAILED")


def log(msg):
    print(msg, flush=True)


# ----------------------------------------------------------------------------------------------
# Counters shared by every thread
# ----------------------------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.commands = Counter()  # logical commands, by kind
        self.resent = Counter()  # extra sends of a command after a connection error or 5xx
        self.conn_errors = 0
        self.cut_mid_request = 0  # of conn_errors: the connection broke after the request went out
        self.http_5xx = 0
        self.samples_5xx = []
        self.unexpected = []  # answers the contract does not promise for that request
        self.violations = []  # check 5: a stale/duplicate result changed a batch
        self.abandoned = []  # check 6: client flows given up (no process answered)
        self.notes = Counter()  # ambiguous outcomes resolved, orphans deleted, ...
        self.kills = 0
        self.restarts = 0

    def add(self, counter, key, n=1):
        with self.lock:
            getattr(self, counter)[key] += n

    def conn_error(self, maybe_applied):
        with self.lock:
            self.conn_errors += 1
            self.cut_mid_request += maybe_applied

    def server_error(self, kind, status, body):
        with self.lock:
            self.http_5xx += 1
            if len(self.samples_5xx) < 10:
                self.samples_5xx.append(f"{kind}: {status} {body[:300]!r}")

    def unexpected_answer(self, what):
        with self.lock:
            self.unexpected.append(what)

    def violation(self, what):
        with self.lock:
            self.violations.append(what)

    def abandon(self, what):
        with self.lock:
            self.abandoned.append(what)


STATS = Stats()


# ----------------------------------------------------------------------------------------------
# HTTP with fail-over between the two processes
# ----------------------------------------------------------------------------------------------


class Unreachable(Exception):
    """Neither process answered after several tries."""


class ConnError(Exception):
    def __init__(self, msg, maybe_applied):
        super().__init__(msg)
        self.maybe_applied = maybe_applied


class Response:
    def __init__(self, status, body, maybe_applied):
        self.status = status
        self.body = body  # bytes
        # True when an earlier send of this request may have reached a process that died (or
        # answered 5xx) before answering: the command may already have been applied.
        self.maybe_applied = maybe_applied

    def json(self):
        try:
            return json.loads(self.body.decode()) if self.body else {}
        except ValueError:
            return {}

    @property
    def error(self):
        return self.json().get("error") if self.status >= 400 else None

    def describe(self):
        return f"{self.status} {self.body[:300].decode('utf-8', 'replace')!r}"


def raw_http(method, url, data=None, headers=None, timeout=30.0):
    """One HTTP exchange; (status, body). ConnError when no answer came back."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except urllib.error.URLError as e:
        refused = isinstance(e.reason, ConnectionRefusedError)
        raise ConnError(f"{e.reason}", maybe_applied=not refused) from None
    except (ConnectionError, http.client.HTTPException, socket.timeout, OSError) as e:
        refused = isinstance(e, ConnectionRefusedError)
        raise ConnError(f"{type(e).__name__}: {e}", maybe_applied=not refused) from None


def with_port(url, port):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))


def port_of(url):
    return urllib.parse.urlsplit(url).port


def send(kind, method, url, data=None, headers=None, rng=random, tries=12):
    """Sends to the process named in `url`, failing over to the other one on connection errors
    and 5xx answers (so that one 5xx does not hide what follows; each fails the run, check 7).
    Counts one command of `kind`."""
    STATS.add("commands", kind)
    port = port_of(url)
    maybe_applied = False
    for attempt in range(tries):
        if attempt:
            STATS.add("resent", kind)
            if port in PORTS:  # not S3's presigned URLs
                port = PORTS[1] if port == PORTS[0] else PORTS[0]
            time.sleep(min(0.1 * attempt, 0.8) + rng.uniform(0, 0.1))
        try:
            status, body = raw_http(method, with_port(url, port), data, headers)
        except ConnError as e:
            STATS.conn_error(e.maybe_applied)
            maybe_applied = maybe_applied or e.maybe_applied
            continue
        if status >= 500:
            STATS.server_error(kind, status, body.decode("utf-8", "replace"))
            maybe_applied = True
            continue
        return Response(status, body, maybe_applied)
    raise Unreachable(f"{kind}: {method} {url}: no answer after {tries} tries")


def api(kind, path, body, token, method="POST", rng=random):
    url = f"http://127.0.0.1:{rng.choice(PORTS)}{path}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    return send(kind, method, url, data, headers, rng)


# ----------------------------------------------------------------------------------------------
# The two servers and the killer
# ----------------------------------------------------------------------------------------------


class Server:
    """One `toq-media serve` (on `port`) or, without a port, one `toq-media worker`, restartable;
    its output goes to <run dir>/<command>-<name>.log, with a marker line at each start and
    SIGKILL (the render count reads them to tell which process instance did what)."""

    def __init__(self, name, port, env, run_dir, binary, command="serve"):
        self.name, self.port, self.binary, self.command = name, port, binary, command
        self.env = dict(env, TOQ_MEDIA_BIND=f"127.0.0.1:{port}") if port else dict(env)
        self.log_path = run_dir / f"{command}-{name}.log"
        self.proc = None
        self.starts = 0
        self.closed = False  # set on exit: no restart after that
        self.lock = threading.RLock()  # re-entered by the Ctrl-C handler

    def start(self):
        with self.lock:
            if self.closed:
                return
            self.starts += 1
            with open(self.log_path, "ab") as out:
                out.write(f"\n===== chaos: start #{self.starts} at {time.strftime('%H:%M:%S')} =====\n".encode())
                out.flush()
                self.proc = subprocess.Popen(
                    [self.binary, self.command], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True)  # Ctrl-C reaches only us

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        with self.lock:
            if self.alive():
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
                with open(self.log_path, "ab") as out:
                    out.write(f"===== chaos: SIGKILL pid {self.proc.pid} at {time.strftime('%H:%M:%S')} =====\n".encode())

    def stop(self, grace=20):
        with self.lock:
            if not self.alive():
                return
            # `toq-media worker` stops cleanly on Ctrl-C; `serve` on SIGTERM as well.
            self.proc.send_signal(signal.SIGTERM if self.port else signal.SIGINT)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def ready(self):
        if not self.port:
            return self.alive()
        try:
            status, _ = raw_http("GET", f"http://127.0.0.1:{self.port}/readyz", timeout=2)
            return status == 200
        except ConnError:
            return False


def wait_ready(servers, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for s in servers:
            if not s.alive():
                raise SystemExit(f"serve {s.name} exited at start-up: see {s.log_path}")
        if all(s.ready() for s in servers):
            return
        time.sleep(0.2)
    raise SystemExit(f"servers not ready after {timeout}s: see {servers[0].log_path.parent}")


def killer(processes, stop, rng, kill_min, kill_max, down_for, outage_for=None):
    """SIGKILLs a random process every kill_min..kill_max seconds; restarts it after down_for s.
    With outage_for (the `outage` fault), the first round takes every serve process down for
    that long instead, longer than a client keeps trying."""
    while not stop.wait(rng.uniform(kill_min, kill_max)):
        if outage_for:
            victims, down = [p for p in processes if p.port], outage_for
            outage_for = None
        else:
            victims, down = [rng.choice(processes)], down_for * rng.uniform(0.8, 1.2)
        for victim in victims:
            victim.kill()
            STATS.kills += 1
        time.sleep(down)
        for victim in victims:
            victim.start()
            STATS.restarts += 1


# ----------------------------------------------------------------------------------------------
# The clients
# ----------------------------------------------------------------------------------------------


class Batch:
    def __init__(self, listing, batch_id, files):
        self.listing = listing
        self.batch_id = batch_id
        self.files = files  # [(clientId, objectKey, fixture name)]
        self.completed = False  # complete (or a retry) was accepted: must reach READY/FAILED
        self.status = "PENDING_UPLOAD"
        self.attempt = 0
        self.jobs = {}  # attempt -> jobId
        self.actions = 0
        self.driver_result = None  # SUCCEEDED/FAILED when the driver played the pipeline
        self.final = None  # the last status answer of the settle phase

    @property
    def terminal(self):
        return self.status in TERMINAL


class Run:
    """What every client shares."""

    def __init__(self, args, binary, env, secrets, token, fixtures):
        self.args, self.binary, self.env = args, binary, env
        self.internal, self.callback_secret = secrets
        self.token = token
        self.fixtures = fixtures  # name -> (bytes, sha256 hex, content type, asset type)
        self.lock = threading.Lock()
        self.batches = []
        self.next_listing = random.randrange(10**9, 9 * 10**9, 10**5)

    def listing_id(self):
        with self.lock:
            self.next_listing += 1
            return self.next_listing

    def track(self, batch):
        with self.lock:
            self.batches.append(batch)

    def counts(self):
        with self.lock:
            bs = list(self.batches)
        return (len(bs), sum(b.completed for b in bs), sum(b.status == "READY" for b in bs),
                sum(b.status == "FAILED" for b in bs))


def signed_callback(run, body, rng):
    raw = json.dumps(body, separators=(",", ":")).encode()
    ts = str(int(time.time()))
    sig = hmac.new(run.callback_secret.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Toq-Timestamp": ts, "X-Toq-Signature": f"v1={sig}"}
    return raw, headers


class Client(threading.Thread):
    def __init__(self, n, run, stop):
        super().__init__(name=f"client-{n}", daemon=True)
        self.run_, self.stop = run, stop
        self.rng = random.Random(run.args.seed * 1000 + n if run.args.seed is not None else None)
        self.batches = []

    # -- plumbing --

    def api(self, kind, path, body, token=None, method="POST"):
        return api(kind, path, body, token or self.run_.token, method, self.rng)

    def expect(self, r, ok, what):
        if r.status not in ok:
            STATS.unexpected_answer(f"{what}: {r.describe()}")
            return False
        return True

    def status_of(self, b, kind="status"):
        r = self.api(kind, f"{API}/status", {"listingIdentityId": b.listing, "batchId": b.batch_id})
        if not self.expect(r, (200,), f"status {b.batch_id}"):
            return None
        s = r.json()
        b.status, b.attempt = s["status"], s["attempt"]
        if s.get("job") and s["attempt"]:
            b.jobs.setdefault(s["attempt"], s["job"]["jobId"])
        if b.status != "PENDING_UPLOAD":
            b.completed = True
        return s

    # -- the loop --

    def run(self):
        while not self.stop.is_set():
            try:
                self.step()
            except Unreachable as e:
                STATS.abandon(f"{self.name}: {e}")
                log(f"  {self.name}: gave up a flow: {e}")
            except Exception as e:  # a driver bug must not hide the rest of the run
                STATS.unexpected_answer(f"{self.name} crashed a step: {type(e).__name__}: {e}")
            time.sleep(self.rng.uniform(0.05, 0.25))

    def step(self):
        in_flight = [b for b in self.batches if b.completed and not b.terminal]
        finished = [b for b in self.batches if b.terminal and b.actions < 4]
        if in_flight and self.rng.random() < 0.5:
            self.status_of(self.rng.choice(in_flight))
        elif len(in_flight) < 3 and (not finished or self.rng.random() < 0.5):
            self.new_batch()
        elif finished:
            self.act_on_finished(self.rng.choice(finished))
        elif in_flight:
            self.status_of(self.rng.choice(in_flight))

    # -- a new listing, batch, uploads and complete --

    def new_batch(self):
        run, rng = self.run_, self.rng
        listing = run.listing_id()
        r = self.api("register", f"/api/v2/internal/listings/{listing}",
                     {"status": "PENDING_PHOTO_PROCESSING", "ownerUserId": 12, "photographerUserId": 7,
                      "projectMedia": False}, token=run.internal, method="PUT")
        if not self.expect(r, (200, 201), f"register {listing}"):
            return
        names = rng.sample(sorted(run.fixtures), rng.randint(1, 3))
        files = []
        for i, name in enumerate(names, 1):
            data, sha, ctype, atype = run.fixtures[name]
            files.append({"clientId": f"photo-{i}", "assetType": atype, "filename": name, "contentType": ctype,
                          "bytes": len(data), "checksum": sha, "sequence": i, "title": f"Photo {i}"})
        body = {"listingIdentityId": listing, "batchReference": f"chaos-{listing}", "files": files}
        r = self.api("create", f"{API}/uploads", body)
        if r.status == 409 and r.error == "OPEN_BATCH_EXISTS" and r.maybe_applied:
            # The first send created it but its answer was lost with the process: its upload
            # URLs are gone, so delete that batch and create again.
            orphan = r.json().get("details", {}).get("batchId")
            STATS.add("notes", "creates applied before a crash (orphan deleted)")
            d = self.api("delete", f"{API}/batches/delete",
                         {"listingIdentityId": listing, "batchId": orphan, "reason": "chaos: answer lost"})
            if not (d.status == 404 and d.maybe_applied) and not self.expect(d, (200,), f"delete orphan {orphan}"):
                return
            r = self.api("create", f"{API}/uploads", body)
        if not self.expect(r, (201,), f"create on listing {listing}"):
            return
        created = r.json()
        tickets = created["files"]
        b = Batch(listing, created["batchId"], [(t["clientId"], t["objectKey"], f["filename"])
                                                for t, f in zip(tickets, files)])
        self.batches.append(b)
        run.track(b)

        for t, f in zip(tickets, files):
            headers = {k: v for k, v in t["headers"].items() if k.lower() != "content-length"}
            u = send("upload", t["method"], t["uploadUrl"], run.fixtures[f["filename"]][0], headers, rng)
            if not self.expect(u, (200, 201), f"upload {t['objectKey']}"):
                return

        r = self.api("complete", f"{API}/uploads/complete",
                     {"listingIdentityId": listing, "batchId": b.batch_id,
                      "files": [{"clientId": t["clientId"], "objectKey": t["objectKey"]} for t in tickets]})
        if r.status == 409 and r.error == "BATCH_NOT_PENDING_UPLOAD" and r.maybe_applied:
            STATS.add("notes", "completes applied before a crash")
            self.status_of(b)
        elif self.expect(r, (202,), f"complete {b.batch_id}"):
            b.completed, b.status, b.attempt = True, "RECEIVED", 1
            b.jobs[1] = r.json()["jobId"]
        if b.completed and 1 in b.jobs and rng.random() < run.args.callback_share:
            self.play_pipeline(b)

    def play_pipeline(self, b):
        """The driver reports the job's result itself, racing the built-in workers: whichever
        comes first is recorded, the other must change nothing."""
        outcome = "SUCCEEDED" if self.rng.random() < 0.7 else "FAILED"
        outputs = []
        for client_id, key, _ in b.files:
            if outcome == "SUCCEEDED":
                outputs.append({"clientId": client_id, "rawKey": key, "renditions": {"original": key},
                                "width": 640, "height": 427})
            else:
                outputs.append({"clientId": client_id, "rawKey": key, "errorCode": "CHAOS_REJECTED",
                                "errorMessage": "the chaos driver played a failing pipeline"})
        body = {"jobId": b.jobs[1], "batchId": b.batch_id, "attempt": 1, "status": outcome, "outputs": outputs,
                "failureReason": None if outcome == "SUCCEEDED" else "chaos: pipeline failure"}
        r = self.callback("callback-result", body)
        if self.expect(r, (200,), f"callback result {b.batch_id}"):
            b.driver_result = outcome

    def callback(self, kind, body):
        raw, headers = signed_callback(self.run_, body, self.rng)
        url = f"http://127.0.0.1:{self.rng.choice(PORTS)}{API}/callback"
        return send(kind, "POST", url, raw, headers, self.rng)

    # -- on a READY or FAILED batch: downloads, retries, stale and duplicate results --

    def act_on_finished(self, b):
        b.actions += 1
        s = self.status_of(b)
        if s is None or not b.terminal:
            return
        if b.status == "FAILED":
            if not (s.get("failureCode") and s.get("statusMessage")):
                STATS.unexpected_answer(f"FAILED batch {b.batch_id} without failureCode/statusMessage: {s}")
            if b.attempt < MAX_ATTEMPTS and self.rng.random() < 0.7:
                self.retry(b, "FAILED_ONLY")
            else:
                self.duplicate_result(b, s)
            return
        r = self.rng.random()
        if r < 0.3:
            d = self.api("downloads", f"{API}/downloads",
                         {"listingIdentityId": b.listing, "batchId": b.batch_id,
                          "resolution": self.rng.choice(RESOLUTIONS)})
            if self.expect(d, (200,), f"downloads {b.batch_id}") and d.json()["downloads"]:
                url = self.rng.choice(d.json()["downloads"])["url"]
                g = send("get-object", "GET", url, rng=self.rng)
                self.expect(g, (200,), f"GET {url}")
        elif r < 0.5 and b.attempt < MAX_ATTEMPTS:
            self.retry(b, "ALL")
        elif r < 0.8 and b.attempt >= 2 and 1 in b.jobs:
            self.stale_result(b, s)
        else:
            self.duplicate_result(b, s)

    def retry(self, b, scope):
        r = self.api("retry", f"{API}/uploads/retry",
                     {"listingIdentityId": b.listing, "batchId": b.batch_id, "reason": "chaos retry", "scope": scope})
        if r.status == 409 and r.error in ("BATCH_NOT_TERMINAL", "RETRY_LIMIT_REACHED") and r.maybe_applied:
            STATS.add("notes", "retries applied before a crash")
            self.status_of(b)
        elif self.expect(r, (202,), f"retry {b.batch_id}"):
            a = r.json()
            b.status, b.attempt = "RECEIVED", a["attempt"]
            b.jobs[a["attempt"]] = a["jobId"]

    def bogus_outputs(self, b, status):
        if status == "FAILED":
            return [{"clientId": c, "rawKey": k, "errorCode": "CHAOS_LATE", "errorMessage": "late"} for c, k, _ in b.files]
        return [{"clientId": c, "rawKey": k, "renditions": {"original": k}, "width": 1, "height": 1}
                for c, k, _ in b.files]

    def stale_result(self, b, before):
        """A result for attempt 1 while the batch is on a later attempt: acknowledged, no change."""
        status = self.rng.choice(["SUCCEEDED", "FAILED", "RUNNING"])
        body = {"jobId": b.jobs[1], "batchId": b.batch_id, "attempt": 1, "status": status,
                "outputs": self.bogus_outputs(b, status), "failureReason": "stale"}
        self.result_changes_nothing(b, before, "callback-stale", body)

    def duplicate_result(self, b, before):
        """A second result for the finished current job: acknowledged, no change."""
        job = before.get("job") or {}
        if not job.get("jobId"):
            return
        status = self.rng.choice(["SUCCEEDED", "FAILED"])
        body = {"jobId": job["jobId"], "batchId": b.batch_id, "attempt": before["attempt"], "status": status,
                "outputs": self.bogus_outputs(b, status), "failureReason": "duplicate"}
        self.result_changes_nothing(b, before, "callback-duplicate", body)

    def result_changes_nothing(self, b, before, kind, body):
        r = self.callback(kind, body)
        if not self.expect(r, (200,), f"{kind} {b.batch_id}"):
            return
        after = self.status_of(b)
        if after is not None and significant(after) != significant(before):
            STATS.violation(f"{kind} for batch {b.batch_id} (attempt {body['attempt']}, {body['status']}) changed it:\n"
                            f"      before {json.dumps(significant(before))}\n      after  {json.dumps(significant(after))}")


def significant(s):
    """The parts of a status answer a result could change."""
    return {"status": s["status"], "attempt": s["attempt"], "updatedAt": s["updatedAt"],
            "failureCode": s.get("failureCode"), "job": s.get("job"), "progress": s["progress"],
            "assets": [{k: a.get(k) for k in ("clientId", "status", "renditions", "width", "height", "errorCode")}
                       for a in s["assets"]]}


# ----------------------------------------------------------------------------------------------
# Setup, checks, report
# ----------------------------------------------------------------------------------------------


def sh(cmd, env, out_path=None, check=True, timeout=600):
    p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if out_path:
        out_path.write_text(f"$ {' '.join(map(str, cmd))}\nexit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    if check and p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p


class Database:
    """The run's database: SQLite in the data dir, or a fresh database on the local MariaDB or
    PostgreSQL server; the checks read it through the servers' own clients."""

    SERVERS = {"mysql": "mysql://root@127.0.0.1:3306", "postgres": "postgres://postgres@127.0.0.1:5432"}

    def __init__(self, kind, env, data_dir):
        self.kind, self.env, self.path = kind, env, data_dir / "toq-media.db"
        self.url = f"{self.SERVERS[kind]}/{DB_NAME}" if kind in self.SERVERS else None

    def create(self):
        if self.kind == "mysql":
            sh(["mysql", "-h127.0.0.1", "-P3306", "-uroot", "-e",
                f"DROP DATABASE IF EXISTS {DB_NAME}; CREATE DATABASE {DB_NAME}"], self.env)
        elif self.kind == "postgres":
            sh(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-q",
                "-c", f"DROP DATABASE IF EXISTS {DB_NAME}", "-c", f"CREATE DATABASE {DB_NAME}"], self.env)

    def rows(self, sql):
        """The rows of `sql` as tuples of text (columns may hold JSON, never a raw tab or newline)."""
        if self.kind == "sqlite":
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                return [tuple(map(str, r)) for r in con.execute(sql).fetchall()]
            finally:
                con.close()
        if self.kind == "mysql":
            cmd = ["mysql", "-h127.0.0.1", "-P3306", "-uroot", "-N", "-B", "--raw", DB_NAME, "-e", sql]
        else:
            cmd = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB_NAME, "-At", "-F", "\t", "-c", sql]
        return [tuple(line.split("\t")) for line in sh(cmd, self.env).stdout.splitlines() if line]


def batch_events(db):
    """(batch id, event type, payload) of the events the checks read, in commit order."""
    return db.rows("SELECT aggregate_id, event_type, payload FROM events WHERE event_type IN "
                   "('Requested', 'Received', 'RetryRequested', 'AssetProcessed') ORDER BY position")


def dead_letters(db):
    """Job messages flagged dead in the table queue (delivered too often)."""
    try:
        return int(db.rows("SELECT COUNT(*) FROM job_queue WHERE dead = 1")[0][0])
    except Exception as e:  # informational only
        return f"? ({e})"


def log_instances(path):
    """A process's log cut at the driver's start markers: per instance, its JSON log lines and
    whether the driver SIGKILLed it."""
    instances = []
    for text in path.read_text(errors="replace").splitlines():
        if text.startswith("===== chaos: start #"):
            instances.append(([], [False]))
        elif text.startswith("===== chaos: SIGKILL") and instances:
            instances[-1][1][0] = True
        elif text.startswith("{") and instances:
            try:
                instances[-1][0].append(json.loads(text).get("fields", {}))
            except ValueError:
                pass
    return [(lines, killed) for lines, (killed,) in instances]


def process_instances(run_dir):
    return [i for path in sorted(run_dir.glob("*.log")) for i in log_instances(path)]


def redeliveries(instances):
    """Jobs the workers handled on a second or later delivery (their first taker was killed)."""
    return sum(f.get("receive_count", 1) > 1 for lines, _ in instances for f in lines
               if f.get("message") == "job handled")


def asset_attempts(events):
    """Every (job id, asset) a worker was asked to process: a Received job covers all of the
    batch's files, a RetryRequested job the assets it names."""
    files, attempts = {}, set()
    for batch_id, kind, payload in events:
        e = json.loads(payload)[kind]
        if kind == "Requested":
            files[batch_id] = [f["clientId"] for f in e["files"]]
        elif kind == "Received":
            attempts.update((e["jobId"], c) for c in files.get(batch_id, ()))
        elif kind == "RetryRequested":
            attempts.update((e["jobId"], c) for c in e["assets"])
    return attempts


def count_renders(instances):
    """Per (job id, asset), the worker's renders ("asset processed" or "asset failed" lines),
    each True when a crash explains it: the process instance that rendered it was SIGKILLed
    before it acknowledged the job ("job handled"), so the queue delivered the job again."""
    renders = defaultdict(list)
    for lines, killed in instances:
        acked = {f.get("job_id") for f in lines if f.get("message") == "job handled"}
        for f in lines:
            if f.get("message") in ("asset processed", "asset failed"):
                renders[(f["job_id"], f["asset"])].append(killed and f["job_id"] not in acked)
    return renders


def check_renders(renders, attempts, recorded, driver_jobs):
    """Check 8, renders against asset-attempts: every render is of an asset-attempt the events
    know, and each extra render of one has a crash to explain it. `recorded` are the (job,
    asset) with an AssetProcessed event: those of jobs the driver did not answer itself must have
    a render (else the logs were not read, and a count of zero duplicates would prove nothing).
    Returns (counts, unexplained, unknown, unrendered)."""
    unexplained = sorted(f"{j} asset {a}: rendered {len(v)} times, {sum(v)} of them by a process "
                         "SIGKILLed before its ack" for (j, a), v in renders.items() if len(v) - 1 > sum(v))
    counts = {
        "renders": sum(map(len, renders.values())),
        "asset-attempts": len(attempts),
        "rendered once": sum(len(v) == 1 for v in renders.values()),
        "rendered again after a crash": sum(1 < len(v) <= sum(v) + 1 for v in renders.values()),
        "never rendered (a driver result or stale job)": len(attempts - renders.keys()),
    }
    unknown = sorted(f"{j} asset {a}" for j, a in renders if (j, a) not in attempts)
    unrendered = sorted(f"{j} asset {a}" for j, a in recorded if j not in driver_jobs and (j, a) not in renders)
    return counts, unexplained, unknown, unrendered


def check_same_results(events):
    """Check 3: per (batch, job, asset), every AssetProcessed outcome is the same."""
    outcomes = defaultdict(list)
    for batch_id, kind, payload in events:
        if kind != "AssetProcessed":
            continue
        e = json.loads(payload)[kind]
        outcomes[(batch_id, e["jobId"], e["clientId"])].append(json.dumps(e["outcome"], sort_keys=True))
    conflicts = {k: v for k, v in outcomes.items() if len(set(v)) > 1}
    repeats = sum(1 for v in outcomes.values() if len(v) > 1)
    return len(outcomes), repeats, conflicts


def settle(run, clients_rng, timeout):
    """Check 2: polls every accepted batch until READY/FAILED; returns (missing, stuck, bad_failed)."""
    token = run.token
    deadline = time.time() + timeout
    with run.lock:
        batches = list(run.batches)
    # Every created batch must still exist (an acknowledged create is durable).
    missing, pending = [], []
    for b in batches:
        r = api("status", f"{API}/status", {"listingIdentityId": b.listing, "batchId": b.batch_id}, token, rng=clients_rng)
        if r.status != 200:
            missing.append(f"{b.batch_id} (listing {b.listing}): {r.describe()}")
            continue
        s = r.json()
        b.status, b.attempt, b.final = s["status"], s["attempt"], s
        if s["status"] != "PENDING_UPLOAD":
            b.completed = True
        if b.completed and not b.terminal:
            pending.append(b)
    last_print = time.time()
    while pending and time.time() < deadline:
        time.sleep(1)
        still = []
        for b in pending:
            r = api("status", f"{API}/status", {"listingIdentityId": b.listing, "batchId": b.batch_id}, token, rng=clients_rng)
            if r.status == 200:
                b.final = r.json()
                b.status, b.attempt = b.final["status"], b.final["attempt"]
            if not b.terminal:
                still.append(b)
        pending = still
        if pending and time.time() - last_print >= 5:
            last_print = time.time()
            log(f"  settling: {len(pending)} batches not READY/FAILED yet "
                f"({Counter(b.status for b in pending).most_common()})")
    bad_failed = [f"{b.batch_id}: {json.dumps({k: b.final.get(k) for k in ('failureCode', 'statusMessage')})}"
                  for b in batches if b.status == "FAILED" and b.final
                  and not (b.final.get("failureCode") and b.final.get("statusMessage"))]
    stuck = [f"{b.batch_id} (listing {b.listing}) is {b.status} on attempt {b.attempt}" for b in pending]
    return missing, stuck, bad_failed


def check_objects(run, objects, rng):
    """Check 4: every READY batch's objects exist on disk (`objects`, the local store's directory;
    None on S3, where the presigned GETs alone show it) and every download URL answers 200."""
    with run.lock:
        ready = [b for b in run.batches if b.status == "READY" and b.final]
    lost, checked = [], Counter()
    lock = threading.Lock()

    def lose(what):
        with lock:
            lost.append(what)

    def one(b):
        if len(b.final["assets"]) != len(b.files):
            lose(f"{b.batch_id}: {len(b.final['assets'])} assets, {len(b.files)} uploaded")
        for a in b.final["assets"]:
            for key in [a["rawObjectKey"], *a["renditions"].values()]:
                with lock:
                    checked["object files"] += bool(objects)
                if objects and not (objects / key).is_file():
                    lose(f"{b.batch_id}: object file missing: objects/{key}")
        fixture_of = {c: run.fixtures[name] for c, _, name in b.files}
        for res in RESOLUTIONS:
            d = api("downloads", f"{API}/downloads", {"listingIdentityId": b.listing, "batchId": b.batch_id,
                                                      "resolution": res}, run.token, rng=rng)
            if d.status != 200:
                lose(f"{b.batch_id}: downloads {res}: {d.describe()}")
                continue
            for dl in d.json()["downloads"]:
                g = send("get-object", "GET", dl["url"], rng=rng)
                with lock:
                    checked["download URLs"] += 1
                fixture = fixture_of[dl["clientId"]]
                if g.status != 200:
                    lose(f"{b.batch_id}: GET {res} of {dl['clientId']}: {g.describe()}")
                elif res == "original" and hashlib.sha256(g.body).hexdigest() != fixture[1]:
                    lose(f"{b.batch_id}: original of {dl['clientId']} differs from the uploaded fixture")
                elif res != "original" and not (g.body.startswith((b"\xff\xd8\xff", b"\x89PNG")) or g.body == fixture[0]):
                    lose(f"{b.batch_id}: {res} of {dl['clientId']} is neither an image nor the original")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, ready))
    return lost, checked


def sqs(endpoint, action, **params):
    """One SQS query-protocol call to moto; the XML answer. Moto checks no signature, but routes
    a request by the service its credential scope names."""
    data = urllib.parse.urlencode(dict(Action=action, Version="2012-11-05", **params)).encode()
    auth = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, "
            "SignedHeaders=host, Signature=0")
    status, body = raw_http("POST", endpoint + "/", data,
                            {"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth})
    if status != 200:
        raise SystemExit(f"SQS {action} on {endpoint}: {status} {body[:300]!r}")
    return body.decode()


def xml_value(xml, tag):
    return re.search(f"<{tag}>([^<]*)</{tag}>", xml).group(1)


def queue_attribute(endpoint, url, name):
    xml = sqs(endpoint, "GetQueueAttributes", QueueUrl=url, **{"AttributeName.1": name})
    return xml_value(xml, "Value")


def create_queue(endpoint, name, dlq=None):
    """A queue with a 10 s visibility timeout (as the worker's) and, with `dlq`, a redrive to it
    after 5 receives, like scripts/aws-emulator's; its URL."""
    attrs = {"VisibilityTimeout": "10"}
    if dlq:
        arn = queue_attribute(endpoint, dlq, "QueueArn")
        attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "5"})
    params = {"QueueName": name}
    for n, (k, v) in enumerate(attrs.items(), 1):
        params[f"Attribute.{n}.Name"], params[f"Attribute.{n}.Value"] = k, v
    return xml_value(sqs(endpoint, "CreateQueue", **params), "QueueUrl")


def aws_env(run_name):
    """The variables of `scripts/aws-emulator start` (which starts moto and s3s-fs unless they
    answer already), with queues of this run's own: nothing another run or test left on the
    shared queues is delivered here, and the dead-letter count is this run's."""
    p = subprocess.run([str(ROOT / "scripts/aws-emulator"), "start"], stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit("scripts/aws-emulator start failed")
    env = dict(line.removeprefix("export ").split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    endpoint, prefix = env["TOQ_MEDIA_SQS_ENDPOINT"], f"toq-chaos-{run_name}"
    jobs_dlq = create_queue(endpoint, f"{prefix}-jobs-dlq")
    results_dlq = create_queue(endpoint, f"{prefix}-results-dlq")
    env.update(TOQ_MEDIA_SQS_JOBS_URL=create_queue(endpoint, f"{prefix}-jobs", jobs_dlq),
               TOQ_MEDIA_SQS_RESULTS_URL=create_queue(endpoint, f"{prefix}-results", results_dlq),
               TOQ_MEDIA_SQS_RESULTS_DLQ_URL=results_dlq,
               TOQ_MEDIA_SQS_LISTING_EVENTS_URL=create_queue(endpoint, f"{prefix}-listing-events"),
               TOQ_MEDIA_SQS_WAIT_SECONDS="1")
    return env, jobs_dlq


# --expect-fail NAME: the fault, and the check that must fail under it. `http_5xx` and
# `render_twice` are the server's own fault switch (TOQ_MEDIA_FAULT, see src/fault.rs);
# `outage` is the driver's: every serve process down for longer than a client keeps trying.
FAULTS = {
    "http_5xx": ("http_5xx:0.02", "5xx"),
    "render_twice": ("render_twice:0.2", "renders"),
    "outage": (None, "abandoned"),
}
OUTAGE_SECONDS = 12


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=120, help="seconds of load with kills (default 120)")
    p.add_argument("--db", choices=("sqlite", "mysql", "postgres"), default="sqlite")
    p.add_argument("--aws", action="store_true",
                   help="S3 on s3s-fs and SQS on moto (scripts/aws-emulator), two serve processes with the "
                        "worker off and one `toq-media worker`, all three killed")
    p.add_argument("--expect-fail", choices=sorted(FAULTS), metavar="FAULT",
                   help=f"inject FAULT ({', '.join(sorted(FAULTS))}) and exit 0 only if the check it breaks fails")
    p.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    p.add_argument("--settle", type=float, default=90, help="seconds allowed to reach READY/FAILED (default 90)")
    p.add_argument("--kill-every", type=float, nargs=2, default=(3, 6), metavar=("MIN", "MAX"),
                   help="seconds between kills, uniformly random (default 3 6)")
    p.add_argument("--down-for", type=float, default=1.0, help="seconds a killed process stays down (default 1)")
    p.add_argument("--callback-share", type=float, default=0.25,
                   help="share of batches whose result the driver sends itself (default 0.25)")
    p.add_argument("--seed", type=int, default=None, help="random seed (kills, mix)")
    p.add_argument("--bin", default=str(ROOT / "target/debug/toq-media"))
    args = p.parse_args()

    seed = args.seed if args.seed is not None else random.randrange(10**6)
    args.seed = seed
    random.seed(seed)
    binary = str(Path(args.bin).resolve())
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"{binary} is missing: cargo build")
    mode = f"{args.db}{'+aws' if args.aws else ''}"
    fault, expected_failure = FAULTS[args.expect_fail] if args.expect_fail else (None, None)

    # A fresh run directory; the last five runs are kept for their logs.
    base = ROOT / "target/chaos"
    base.mkdir(parents=True, exist_ok=True)
    for old in sorted(d for d in base.iterdir() if d.is_dir())[:-4]:
        shutil.rmtree(old, ignore_errors=True)
    run_name = f"{time.strftime('%Y%m%d-%H%M%S')}-{mode.replace('+', '-')}"
    run_dir = base / run_name
    shutil.rmtree(run_dir, ignore_errors=True)
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOQ_MEDIA_")}
    # A killed worker's job reappears after the visibility timeout: 10 s rather than 60 s lets
    # the run settle sooner (the heartbeat keeps live jobs hidden either way).
    env.update(TOQ_MEDIA_DATA_DIR=str(data_dir), TOQ_MEDIA_LOG=os.environ.get("TOQ_MEDIA_LOG", "info"),
               TOQ_MEDIA_WORKER_VISIBILITY_SECONDS="10")
    db = Database(args.db, env, data_dir)
    db.create()
    if db.url:
        env["TOQ_MEDIA_DATABASE_URL"] = db.url
    jobs_dlq = None
    if args.aws:
        aws, jobs_dlq = aws_env(run_name)
        env.update(aws)
    if fault:
        env["TOQ_MEDIA_FAULT"] = fault

    log(f"chaos: {mode}, {args.duration:g}s of load, {args.clients} clients, kill every "
        f"{args.kill_every[0]:g}-{args.kill_every[1]:g}s, seed {seed}; run dir {run_dir.relative_to(ROOT)}"
        + (f"; FAULT {args.expect_fail} on, expecting the {expected_failure} check to fail" if args.expect_fail else ""))
    sh([binary, "migrate"], env, run_dir / "migrate.out")
    secrets = (sh([binary, "secret", "internal"], env).stdout.strip(),
               sh([binary, "secret", "callback"], env).stdout.strip())
    token = sh([binary, "token", "--user", "7", "--role", "photographer"], env).stdout.strip()
    fixtures = {}
    for name, ctype, atype in FIXTURES:
        data = (ROOT / "tests/fixtures" / name).read_bytes()
        fixtures[name] = (data, hashlib.sha256(data).hexdigest(), ctype, atype)

    if args.aws:
        servers = [Server(n, port, dict(env, TOQ_MEDIA_WORKER="off"), run_dir, binary) for n, port in zip("AB", PORTS)]
        processes = servers + [Server("W", None, env, run_dir, binary, command="worker")]
    else:
        servers = [Server(n, port, env, run_dir, binary) for n, port in zip("AB", PORTS)]
        processes = servers
    stop_kills, stop_load = threading.Event(), threading.Event()

    def cleanup(*_):
        stop_kills.set()
        stop_load.set()
        for s in processes:
            s.closed = True
            s.kill()

    def on_signal(signum, _frame):
        log(f"\nchaos: interrupted ({signal.Signals(signum).name}): stopping the servers")
        cleanup()
        os._exit(130)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for s in processes:
            s.start()
        wait_ready(processes)
        run = Run(args, binary, env, secrets, token, fixtures)
        clients = [Client(n, run, stop_load) for n in range(args.clients)]
        outage = OUTAGE_SECONDS if args.expect_fail == "outage" else None
        kill_thread = threading.Thread(target=killer, daemon=True, args=(
            processes, stop_kills, random.Random(seed), args.kill_every[0], args.kill_every[1], args.down_for,
            outage))
        started = time.time()
        for c in clients:
            c.start()
        kill_thread.start()

        def progress(phase):
            created, completed, ready, failed = run.counts()
            log(f"[{time.time() - started:5.0f}s] {phase}: kills {STATS.kills}, batches {created} created / "
                f"{completed} completed / {ready} READY / {failed} FAILED, commands {sum(STATS.commands.values())}, "
                f"connection errors {STATS.conn_errors}, 5xx {STATS.http_5xx}, unexpected {len(STATS.unexpected)}, "
                f"abandoned {len(STATS.abandoned)}")

        while time.time() - started < args.duration:
            time.sleep(min(5, max(0.1, args.duration - (time.time() - started))))
            progress("load")
        stop_kills.set()
        kill_thread.join()
        for s in processes:  # the killer restarts whom it killed, but make sure
            if not s.alive():
                s.start()
        stop_load.set()
        for c in clients:
            c.join(60)
            if c.is_alive():
                STATS.abandon(f"{c.name} still in a step 60 s after the load stopped")
        load_seconds = time.time() - started
        progress("load stopped, killing stopped")
        wait_ready(processes)

        # ---- checks ----
        t0 = time.time()
        rng = random.Random(seed + 1)
        missing, stuck, bad_failed = settle(run, rng, args.settle)
        settle_seconds = time.time() - t0
        log(f"[{time.time() - started:5.0f}s] settled in {settle_seconds:.1f}s; checking objects and downloads")
        lost, checked = check_objects(run, None if args.aws else data_dir / "objects", rng)
        log(f"[{time.time() - started:5.0f}s] stopping the processes (SIGTERM, the worker SIGINT); verifying")
        for s in processes:
            s.stop()
        verify = sh([binary, "projections", "verify"], env, run_dir / "projections-verify.out", check=False)
        audit = sh([binary, "audit", "verify"], env, run_dir / "audit-verify.out", check=False)
        events = batch_events(db)
        results, repeats, conflicts = check_same_results(events)
        instances = process_instances(run_dir)
        with run.lock:
            driver_jobs = {b.jobs[1] for b in run.batches if b.driver_result and 1 in b.jobs}
        recorded = {(e["jobId"], e["clientId"]) for e in
                    (json.loads(payload)[kind] for _, kind, payload in events if kind == "AssetProcessed")}
        renders = check_renders(count_renders(instances), asset_attempts(events), recorded, driver_jobs)
        redelivered = redeliveries(instances)
        dead = (queue_attribute(env["TOQ_MEDIA_SQS_ENDPOINT"], jobs_dlq, "ApproximateNumberOfMessages")
                if jobs_dlq else dead_letters(db))
        total_seconds = time.time() - started
    finally:
        cleanup()

    # ---- report ----
    with run.lock:
        batches = list(run.batches)
    st = Counter(b.status for b in batches)
    failures = []

    def check(ok, what, details=(), key=None):
        log(f"  [{'ok' if ok else 'FAIL'}] {what}")
        for d in list(details)[:10]:
            log(f"         {d}")
        if len(details) > 10:
            log(f"         ... and {len(details) - 10} more")
        if not ok:
            failures.append(key or what)

    log("")
    log(f"chaos report ({mode}, seed {seed}, run dir {run_dir.relative_to(ROOT)})")
    log(f"  time: load {load_seconds:.1f}s, settle {settle_seconds:.1f}s, total {total_seconds:.1f}s")
    log(f"  kills: {STATS.kills} (restarts {STATS.restarts}; starts "
        + " ".join(f"{s.name}={s.starts}" for s in processes) + ")")
    log(f"  commands sent: {sum(STATS.commands.values())}: "
        + ", ".join(f"{k} {v}" + (f" (+{STATS.resent[k]} resent)" if STATS.resent[k] else "")
                    for k, v in sorted(STATS.commands.items())))
    log(f"  batches: {len(batches)} created, {sum(b.completed for b in batches)} completed, "
        f"{st['READY']} READY, {st['FAILED']} FAILED, {st['PENDING_UPLOAD']} left PENDING_UPLOAD, "
        f"{sum(b.driver_result is not None for b in batches)} with a driver result, "
        f"{sum(b.attempt >= 2 for b in batches)} retried (max attempt {max((b.attempt for b in batches), default=0)})")
    log(f"  connection errors: {STATS.conn_errors} ({STATS.conn_errors - STATS.cut_mid_request} refused, "
        f"{STATS.cut_mid_request} cut mid-request; each retried on the other process)")
    log(f"  5xx answers: {STATS.http_5xx}")
    log(f"  jobs redelivered after their worker was killed: {redelivered}; job messages dead-lettered: {dead}")
    counts, unexplained, unknown, unrendered = renders
    log("  worker renders: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f", unexplained {len(unexplained)}")
    for k, v in sorted(STATS.notes.items()):
        log(f"  {k}: {v}")
    log(f"  lost = {len(lost)} (checked {checked['object files']} object files, {checked['download URLs']} download URLs)")
    log("checks:")

    def first_line(p):
        return (p.stdout.strip().splitlines() or p.stderr.strip().splitlines() or [""])[0][:200]

    check(verify.returncode == 0, f"projections verify exits 0 (exit {verify.returncode}: {first_line(verify)})",
          verify.stdout.splitlines()[-10:] + verify.stderr.splitlines()[-10:] if verify.returncode else ())
    check(audit.returncode == 0, f"audit verify exits 0 (exit {audit.returncode}: {first_line(audit)})",
          audit.stdout.splitlines()[-10:] + audit.stderr.splitlines()[-10:] if audit.returncode else ())
    check(not missing, f"every created batch still exists ({len(missing)} missing)", missing)
    check(not stuck, f"every accepted batch is READY or FAILED within {args.settle:g}s ({len(stuck)} not)", stuck)
    check(not bad_failed, f"every FAILED batch has a failure code and message ({len(bad_failed)} without)", bad_failed)
    check(not conflicts, f"no job processed twice to different results ({results} asset results, "
                         f"{repeats} recorded more than once, {len(conflicts)} conflicting)",
          [f"{k}: {v}" for k, v in conflicts.items()])
    check(not lost, f"no object lost: lost = {len(lost)}", lost)
    check(not STATS.violations, f"stale and duplicate results changed nothing ({len(STATS.violations)} did)",
          STATS.violations)
    check(not STATS.unexpected, f"clients got only the answers the contract promises ({len(STATS.unexpected)} others)",
          STATS.unexpected)
    left = [f"{b.batch_id} (listing {b.listing}) created, never completed" for b in batches if not b.completed]
    check(not STATS.abandoned and not left, f"no client flow abandoned ({len(STATS.abandoned)} given up, "
                                            f"{len(left)} batches left before complete)", STATS.abandoned + left,
          key="abandoned")
    check(not STATS.http_5xx, f"no 5xx answer ({STATS.http_5xx})", STATS.samples_5xx, key="5xx")
    check(not (unexplained or unknown or unrendered),
          f"no asset-attempt rendered twice without a crash to explain it ({counts['renders']} renders of "
          f"{counts['asset-attempts']} asset-attempts: {len(unexplained)} unexplained, {len(unknown)} of "
          f"unknown asset-attempts, {len(unrendered)} results recorded without a render logged)",
          unexplained + [f"unknown: {u}" for u in unknown] + [f"no render logged: {u}" for u in unrendered],
          key="renders")
    return verdict(failures, args.expect_fail, expected_failure, run_dir)


def verdict(failures, fault, expected, run_dir):
    """The exit status: 0 when every check passed; under --expect-fail, 0 only when the check
    the fault breaks failed (the others are reported, not judged)."""
    logs = run_dir.relative_to(ROOT)
    if fault:
        if expected in failures:
            log(f"chaos: the {expected} check failed under fault {fault}, as it must; logs in {logs}")
            return 0
        log(f"chaos: FAILED: fault {fault} was on but the {expected} check passed; logs in {logs}")
        return 1
    if failures:
        log(f"chaos: FAILED ({len(failures)} checks); logs in {logs}")
        return 1
    log("chaos: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
