// Promise.withResolvers is ES2024 (Node 22+). js-libp2p 3.x and its helpers
// (it-queue, @libp2p/utils, yamux, ping) call it without declaring a Node 22
// engine, so on Node 20 a node crashes during start or stop without this shim.
// Load it before libp2p: `node --import ./polyfill.mjs ...` (peer.mjs also
// imports it first, so either way works).
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      // `this` keeps the spec's behaviour for Promise subclasses.
      const promise = new this((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
