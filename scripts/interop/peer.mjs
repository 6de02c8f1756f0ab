// A real js-libp2p 3.x peer that the C# libp2p implementation is tested against.
//
//   node peer.mjs listen [--port 0] [--host 127.0.0.1] [--seed HEX64] [--events] [--relay]
//                        [--reserve <relay multiaddr with /p2p/>]   (accept connections through that relay)
//   node peer.mjs dial <multiaddr> [--bytes N] [--echo] [--protocol ID] [--chunk 65536]
//                      [--no-ping] [--hold] [--timeout 300] [--seed HEX64]
//
// Every mode serves /decentralized/bulk/1.0.0 and /decentralized/echo/1.0.0 and
// reports progress as one JSON object per stdout line. README.md documents the
// lines, the exit codes and the deterministic byte generator.
import './polyfill.mjs' // must stay first: libp2p needs Promise.withResolvers on Node 20
import { createHash } from 'node:crypto'
import { endianness } from 'node:os'
import { parseArgs } from 'node:util'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const BULK_PROTOCOL = '/decentralized/bulk/1.0.0'
const ECHO_PROTOCOL = '/decentralized/echo/1.0.0'
const PATTERN_SEED = 0x9E3779B9
// Test suites open many streams per connection and reconnect quickly; js's
// defaults (32 inbound streams per protocol, 5 inbound connections per second
// per host) would reset streams and refuse connections mid-suite.
const STREAM_LIMITS = { maxInboundStreams: 64, maxOutboundStreams: 64, runOnLimitedConnection: true }
const IDENTIFY_WAIT_MS = 5000
const PREGENERATE_LIMIT = 1 << 30

/** Writes one JSON event line; stdout is the machine-readable channel. */
function emit (event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

/**
 * Deterministic test data: xorshift32 (13, 17, 5) from state PATTERN_SEED,
 * each new state written as a little-endian uint32. Returns next(len), which
 * yields the next `len` bytes; len must be a multiple of 4 except on the last call.
 */
function patternGenerator (seed = PATTERN_SEED) {
  let state = seed | 0
  return function next (len) {
    const words = Math.ceil(len / 4)
    const bytes = new Uint8Array(words * 4)
    const view = new Int32Array(bytes.buffer) // host order; checked to be LE at startup
    let s = state // a local, not the closure slot: twice as fast in V8
    for (let i = 0; i < words; i++) {
      s ^= s << 13
      s ^= s >>> 17
      s ^= s << 5
      view[i] = s
    }
    state = s
    return len === bytes.length ? bytes : bytes.subarray(0, len)
  }
}

/** Error text; onDrain() rejects with the stream's close Event, not an Error. */
function describe (err) {
  if (err instanceof Error) return err.message
  const cause = err?.error ?? err?.detail
  if (cause instanceof Error) return cause.message
  return err?.type !== undefined ? `stream ${err.type} event` : String(err)
}

const asBytes = (chunk) => chunk instanceof Uint8Array ? chunk : chunk.subarray()

/**
 * The first `n` pattern bytes as chunks of `chunkSize`, each a fresh buffer (the
 * muxer may hold on to a sent buffer until it is written). Up to
 * PREGENERATE_LIMIT they are made before the clock starts, so MB/s measures the
 * transport rather than the generator; larger payloads are made while sending.
 */
function preparePattern (n, chunkSize) {
  const hash = createHash('sha256')
  const next = patternGenerator()
  function * generate () {
    for (let left = n; left > 0;) {
      const buf = next(Math.min(chunkSize, left))
      hash.update(buf)
      left -= buf.length
      yield buf
    }
  }
  const chunks = n <= PREGENERATE_LIMIT ? [...generate()] : generate()
  return { chunks, digest: () => hash.digest('hex') }
}

/** Sends prepared chunks, waiting whenever the stream asks for backpressure. */
async function sendChunks (stream, chunks) {
  for (const buf of chunks) {
    if (!stream.send(buf)) await stream.onDrain()
  }
}

/** A reset can end the iteration quietly; only the remote's FIN is a real EOF. */
function assertCleanEnd (stream, bytes) {
  if (stream.status === 'reset' || stream.status === 'aborted') {
    throw new Error(`stream ${stream.status} after ${bytes} bytes`)
  }
}

/**
 * Reads until the remote half-closes; resolves to { bytes, sha256, data }.
 * `keepLimit` > 0 also keeps the bytes (a reply), refusing more than that.
 */
async function drain (stream, keepLimit = 0) {
  const hash = createHash('sha256')
  const kept = []
  let bytes = 0
  for await (const chunk of stream) {
    const buf = asBytes(chunk)
    bytes += buf.length
    hash.update(buf)
    if (keepLimit > 0) {
      if (bytes > keepLimit) throw new Error(`reply longer than ${keepLimit} bytes`)
      kept.push(buf)
    }
  }
  assertCleanEnd(stream, bytes)
  return { bytes, sha256: hash.digest('hex'), data: Buffer.concat(kept) }
}

function guardHandler (name, options, serve) {
  return async (stream, connection) => {
    try {
      const result = await serve(stream)
      if (options.events) emit({ event: name, remotePeer: connection.remotePeer.toString(), ...result })
    } catch (err) {
      process.stderr.write(`${name} failed: ${err?.stack ?? describe(err)}\n`)
      if (options.events) emit({ event: 'stream-error', protocol: stream.protocol, message: describe(err) })
      stream.abort(err instanceof Error ? err : new Error(describe(err)))
    }
  }
}

/** Bulk sink: read to EOF, reply with the lowercase hex SHA-256 as UTF-8, close. */
async function serveBulk (stream) {
  const { bytes, sha256 } = await drain(stream)
  stream.send(new TextEncoder().encode(sha256))
  await stream.close()
  return { bytes, sha256 }
}

/** Echo: write back every chunk as it arrives, close after the remote's EOF. */
async function serveEcho (stream) {
  let bytes = 0
  for await (const chunk of stream) {
    bytes += chunk.byteLength
    if (!stream.send(chunk)) await stream.onDrain()
  }
  assertCleanEnd(stream, bytes)
  await stream.close()
  return { bytes }
}

async function startNode (options, listenAddrs) {
  const privateKey = options.seed === undefined
    ? undefined
    : await generateKeyPairFromSeed('Ed25519', parseSeed(options.seed))
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: listenAddrs },
    transports: options.reserve ? [tcp(), circuitRelayTransport()] : [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // --relay: also serve circuit relay v2 (hop) with js's default limits (2 min, 128 KiB per direction).
    services: options.relay ? { identify: identify(), ping: ping(), relay: circuitRelayServer() } : { identify: identify(), ping: ping() },
    connectionManager: { inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 256 }
  })
  await node.handle(BULK_PROTOCOL, guardHandler('bulk-received', options, serveBulk), STREAM_LIMITS)
  await node.handle(ECHO_PROTOCOL, guardHandler('echo-served', options, serveEcho), STREAM_LIMITS)
  if (options.events) {
    node.addEventListener('connection:open', ({ detail: c }) => emit({
      event: 'connection-open', remotePeer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString(), direction: c.direction
    }))
  }
  return node
}

function parseSeed (hex) {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error('--seed must be 64 hex characters (a 32-byte Ed25519 seed)')
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

function parseCount (text, name) {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new Error(`${name} must be a non-negative integer`)
  return Number(text)
}

/** Waits for identify with `peer` (it runs by itself on every new connection). */
function identifyWaiter (node) {
  const results = new Map()
  const waiters = new Map()
  node.addEventListener('peer:identify', ({ detail }) => {
    const key = detail.peerId.toString()
    results.set(key, detail)
    waiters.get(key)?.(detail)
  })
  return (peer) => {
    const key = peer.toString()
    if (results.has(key)) return Promise.resolve(results.get(key))
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), IDENTIFY_WAIT_MS)
      waiters.set(key, (d) => { clearTimeout(timer); resolve(d) })
    })
  }
}

const mbPerSec = (bytes, ms) => ms > 0 ? Math.round(bytes / 1e6 / (ms / 1000) * 10) / 10 : null

async function runBulk (conn, options, n) {
  const protocol = options.protocol ?? BULK_PROTOCOL
  const payload = preparePattern(n, options.chunk)
  const stream = await conn.newStream(protocol, STREAM_LIMITS)
  const start = performance.now()
  const reply = drain(stream, 1024) // read concurrently so the reply is never missed
  reply.catch(() => {}) // a send failure below is the error to report; it is awaited later
  await sendChunks(stream, payload.chunks)
  await stream.close()
  const sha256 = payload.digest()
  const remoteSha256 = (await reply).data.toString('utf8').trim()
  const ms = performance.now() - start
  emit({ event: 'bulk', protocol, bytes: n, sha256, remoteSha256, ms: Math.round(ms), mbPerSec: mbPerSec(n, ms) })
  if (remoteSha256 !== sha256) throw new Error(`bulk digest mismatch: sent ${sha256}, remote saw ${remoteSha256}`)
}

async function runEcho (conn, options, n) {
  const protocol = options.protocol ?? ECHO_PROTOCOL
  const payload = preparePattern(n, options.chunk)
  const stream = await conn.newStream(protocol, STREAM_LIMITS)
  const start = performance.now()
  const back = drain(stream)
  back.catch(() => {}) // a send failure below is the error to report; it is awaited later
  await sendChunks(stream, payload.chunks)
  await stream.close()
  const sha256 = payload.digest()
  const echoed = await back
  const ms = performance.now() - start
  emit({ event: 'echo', protocol, bytes: n, sha256, echoedBytes: echoed.bytes, echoSha256: echoed.sha256, ms: Math.round(ms), mbPerSec: mbPerSec(n, ms) })
  if (echoed.sha256 !== sha256 || echoed.bytes !== n) throw new Error('echo mismatch: bytes read back differ from bytes sent')
}

async function dialMode (target, options) {
  const node = await startNode(options, [])
  const waitIdentify = identifyWaiter(node)
  const conn = await node.dial(multiaddr(target))
  const id = await waitIdentify(conn.remotePeer)
  emit({
    event: 'connected',
    remotePeer: conn.remotePeer.toString(),
    remoteAddr: conn.remoteAddr.toString(),
    identified: id !== undefined,
    agentVersion: id?.agentVersion ?? null,
    protocolVersion: id?.protocolVersion ?? null,
    protocols: id?.protocols ?? []
  })
  if (!options['no-ping']) {
    emit({ event: 'ping', rttMs: await node.services.ping.ping(conn.remotePeer) })
  }
  if (options.bytes !== undefined) {
    await (options.echo ? runEcho(conn, options, options.bytes) : runBulk(conn, options, options.bytes))
  }
  emit({ event: 'done' })
  return node
}

async function listenMode (options) {
  const port = parseCount(options.port ?? '0', '--port')
  const listen = [`/ip4/${options.host ?? '127.0.0.1'}/tcp/${port}`]
  if (options.reserve) listen.push(`${options.reserve}/p2p-circuit`)
  const node = await startNode(options, listen)
  if (options.reserve) {
    // The circuit address appears once the relay granted the reservation.
    const deadline = Date.now() + 20_000
    while (!node.getMultiaddrs().some(a => a.toString().includes('/p2p-circuit')) && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  emit({ event: 'ready', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })
  return node
}

/** Stops on SIGTERM/SIGINT or when stdin closes (the parent went away). */
function stopOn (node, options) {
  let stopping = false
  const stop = async (code) => {
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(code), 5000).unref() // never hang on a stuck connection
    await node.stop().catch(() => {})
    process.exit(code)
  }
  process.on('SIGTERM', () => stop(0))
  process.on('SIGINT', () => stop(0))
  if (!options['ignore-stdin']) {
    process.stdin.on('end', () => stop(0)).on('close', () => stop(0)).on('error', () => stop(0))
    process.stdin.resume()
  }
  return stop
}

async function main () {
  const { values: options, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      seed: { type: 'string' },
      bytes: { type: 'string' },
      protocol: { type: 'string' },
      chunk: { type: 'string' },
      echo: { type: 'boolean' },
      'no-ping': { type: 'boolean' },
      hold: { type: 'boolean' },
      events: { type: 'boolean' },
      relay: { type: 'boolean' },
      reserve: { type: 'string' },
      'ignore-stdin': { type: 'boolean' },
      timeout: { type: 'string' }
    }
  })
  if (endianness() !== 'LE') throw new Error('the pattern generator assumes a little-endian host')
  options.chunk = parseCount(options.chunk ?? '65536', '--chunk')
  if (options.chunk === 0 || options.chunk % 4 !== 0) throw new Error('--chunk must be a positive multiple of 4')
  if (options.bytes !== undefined) options.bytes = parseCount(options.bytes, '--bytes')
  const [mode, target] = positionals
  if (mode === 'listen') {
    stopOn(await listenMode(options), options)
  } else if (mode === 'dial' && target !== undefined) {
    // A hung remote must not hang the test run: fail the dial steps after --timeout s.
    const seconds = parseCount(options.timeout ?? '300', '--timeout')
    const watchdog = setTimeout(() => {
      emit({ event: 'error', message: `dial steps did not finish within ${seconds} s` })
      process.exit(124)
    }, seconds * 1000)
    const node = await dialMode(target, options)
    clearTimeout(watchdog)
    const stop = stopOn(node, options)
    if (!options.hold) await stop(0)
  } else {
    throw new Error('usage: peer.mjs listen [--port N] [--seed HEX64] | dial <multiaddr> [--bytes N] [--echo]')
  }
}

main().catch((err) => {
  emit({ event: 'error', message: describe(err) })
  process.stderr.write(`${err?.stack ?? describe(err)}\n`)
  process.exit(1)
})
