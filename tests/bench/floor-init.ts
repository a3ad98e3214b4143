// Floor (a) of `npm run bench`: a bare compiled Bun program that prints one JSON line, what `init` cannot beat.
console.log('{"status":"Success","capabilities":{"attach":false,"selinuxRelabel":true,"fsGroup":false,"supportsMetrics":false}}');
