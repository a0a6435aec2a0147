// A Lifeline server on your application's own HTTP server: authenticate, receive, publish.
import { createServer as createHttpServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createServer, staticHandler } from 'lifeline/server';

// Your application's HTTP server; this one serves the files beside it (index.html, the browser client).
const http = createHttpServer(staticHandler([{ prefix: '/', dir: fileURLToPath(new URL('.', import.meta.url)) }]));
const lifeline = createServer({
  httpServer: http, // Lifeline takes the WebSocket upgrades on /lifeline, your app keeps the rest
  authenticateHello: (token) => (token === 'demo-token' ? 'alice' : undefined), // check it against your sessions
});
lifeline.on('message', (session, message) => {
  const text = `${session.principal}: ${new TextDecoder().decode(message.payload)}`;
  // To every subscriber of 'chat'; rejects if it cannot be published (too large, or a shared broker away).
  lifeline.publish('chat', { payload: new TextEncoder().encode(text) }).catch((err) => console.error('publish failed:', err.message));
});
process.on('SIGTERM', () => lifeline.drain().then(() => process.exit(0))); // clients reconnect elsewhere, spread out
http.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${http.address().port}/`));
