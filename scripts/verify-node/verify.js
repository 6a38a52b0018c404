// Verifies one Herald webhook delivery with the npm library standardwebhooks,
// proving a consumer in another language can check Herald's signatures.
//
//   node verify.js delivery.json
//
// delivery.json: {"secret": "whsec_...", "headers": {"webhook-id": ..., ...}, "body": "<raw body>"}
// Needs `npm install standardwebhooks` where Node can resolve it (NODE_PATH).
// Exits 0 and prints the verified payload's id when the signature is valid.
"use strict";
const fs = require("fs");
const { Webhook } = require("standardwebhooks");

const delivery = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const wh = new Webhook(delivery.secret);
try {
  const payload = wh.verify(delivery.body, delivery.headers);
  console.log("verified", payload.id);
} catch (err) {
  console.error("verification failed:", err.message);
  process.exit(1);
}
