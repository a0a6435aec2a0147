// A Node client: connect with a token, subscribe to a channel, send, and print the reply.
import { createNodeClient } from 'lifeline/client/node';

const client = createNodeClient({ url: process.env.LIFELINE_URL ?? 'ws://127.0.0.1:3000/lifeline', getToken: () => 'demo-token' });
await client.ready(); // connected: the Welcome arrived
await client.subscribe('chat'); // confirmed: whatever is published to 'chat' from now on reaches us
const reply = new Promise((resolve) => client.on('message', resolve));
await client.send('hello from Node'); // resolves when the server has taken the message
const m = await reply;
console.log(`[${m.channel}] ${new TextDecoder().decode(m.payload)}`);
client.close();
