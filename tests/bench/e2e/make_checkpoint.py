import json, struct, random, os, sys
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
L, E, K, H, F = 2, 4, 2, 32, 16
random.seed(5)
def bf16(v):
    b = struct.unpack('<I', struct.pack('<f', v))[0]
    return (b + 0x7fff + ((b >> 16) & 1)) >> 16
tensors = [("model.embed_tokens.weight", [8, H])]
for l in range(L):
    tensors.append((f"model.layers.{l}.mlp.gate.weight", [E, H]))
    for e in range(E):
        for n, shp in (("gate_proj", [F, H]), ("up_proj", [F, H]), ("down_proj", [H, F])):
            tensors.append((f"model.layers.{l}.mlp.experts.{e}.{n}.weight", shp))
hdr = {}; off = 0; data = bytearray(); vals = {}
for name, shp in tensors:
    n = shp[0] * shp[1]
    s = 1 / (shp[1] ** 0.5)
    v = [bf16(random.uniform(-s, s)) for _ in range(n)]
    vals[name] = [struct.unpack('<f', struct.pack('<I', x << 16))[0] for x in v]
    data += struct.pack('<%dH' % n, *v)
    hdr[name] = {"dtype": "BF16", "shape": shp, "data_offsets": [off, off + 2 * n]}; off += 2 * n
h = json.dumps(hdr).encode(); h += b' ' * ((8 - len(h) % 8) % 8)
open(os.path.join(d, "model.safetensors"), "wb").write(struct.pack('<Q', len(h)) + h + data)
json.dump({"model_type": "olmoe", "num_experts_per_tok": K, "hidden_size": H}, open(os.path.join(d, "config.json"), "w"))
json.dump(vals, open(os.path.join(d, "values.json"), "w"))
