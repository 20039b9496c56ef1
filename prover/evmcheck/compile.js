const solc = require('solc');
const fs = require('fs');
const src = fs.readFileSync(process.argv[2], 'utf8');
const input = {language: 'Solidity', sources: {'Verifier.sol': {content: src}},
  settings: {optimizer: {enabled: true, runs: 200}, outputSelection: {'*': {'*': ['evm.bytecode.object']}}}};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of (out.errors || [])) { if (e.severity === 'error') { console.error(e.formattedMessage); process.exit(1); } }
process.stdout.write(out.contracts['Verifier.sol']['Verifier'].evm.bytecode.object);
