// A browser client (bundle it: npx esbuild browser-client.js --bundle --format=esm --outfile=bundle.js).
import { createBrowserClient } from 'lifeline/client';

const url = new URL('/lifeline', location.href.replace(/^http/, 'ws'));
const client = createBrowserClient({ url: url.href, channels: ['chat'], getToken: () => 'demo-token' });
const show = (line) => document.querySelector('#log').append(`${line}\n`);
client.on('state', (e) => show(`state: ${e.state}`));
client.on('message', (m) => show(`[${m.channel}] ${new TextDecoder().decode(m.payload)}`));
await client.ready(); // the channels given at creation are confirmed by the Welcome
document.querySelector('form').onsubmit = (e) => (e.preventDefault(), client.post(e.target.text.value)); // post: fire and forget
