#!/usr/bin/env python3
"""Write the gradient and activation files `mergelens metrics --grads/--acts` reads, for one
Hugging Face causal language model (one expert) and a few calibration texts of its own task.

    python3 scripts/grads_acts.py --model path/or/hub-id --texts my-task.txt \
        --grads grads/my-expert.safetensors --acts acts/my-expert.safetensors

Run it once per expert, each with texts of that expert's task (about 10 is what the paper used;
gradient L2 is stable with few samples, cosine and dot need more). Then:

    mergelens metrics BASE EXPERT1 EXPERT2 ... --grads grads/e1.safetensors grads/e2.safetensors ... \
        --acts acts/e1.safetensors acts/e2.safetensors ... -o metrics.json

What the files hold (docs/calibration.md has the details), with the loss L = the mean over texts of
each text's mean next-token cross-entropy:
  gradient file    one tensor per trainable parameter, same name and shape as in the checkpoint:
                   dL/dθ ("encoder gradient"); plus `input` [hidden]: dL/dδ where δ is one vector
                   added to every input embedding ("input gradient": the sum over positions and the
                   mean over texts of the gradient with respect to the input embeddings).
  activation file  `hidden.<l>` [hidden] for l = 0 (embeddings) … number of layers: the mean hidden
                   state after each layer over every token of every text.
Only tensors present in both files of a pair count, so --include must be the same for all experts.

Needs torch, transformers and safetensors (pip install torch transformers safetensors). Runs on
CPU by default; --device cuda for a GPU. Gradients of a 1B-parameter model take 4 GB as float32:
--grad-dtype bfloat16 halves that, --include keeps a subset of parameters (a regular expression).
"""
from __future__ import annotations

import argparse
import json
import re
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="HF model folder or hub id (a causal LM)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--texts", help="calibration texts, one per line (UTF-8); tokenised with the model's tokenizer")
    src.add_argument("--token-ids", help="JSON file: a list of token-id lists (already tokenised; no tokenizer needed)")
    p.add_argument("--grads", help="gradient safetensors file to write")
    p.add_argument("--acts", help="activation safetensors file to write")
    p.add_argument("--max-length", type=int, default=256, help="truncate each text to this many tokens (default 256)")
    p.add_argument("--include", default=None, help="regular expression: keep only parameters whose name matches (default: all)")
    p.add_argument("--grad-dtype", choices=["float32", "bfloat16", "float16"], default="float32", help="dtype of the stored gradients (default float32)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32", help="dtype to run the model in (default float32)")
    a = p.parse_args(argv)
    if not a.grads and not a.acts:
        p.error("nothing to do: give --grads and/or --acts")
    return a


def load_token_ids(args: argparse.Namespace) -> list[list[int]]:
    if args.token_ids:
        with open(args.token_ids, encoding="utf-8") as f:
            ids = json.load(f)
        if not isinstance(ids, list) or not all(isinstance(s, list) and all(isinstance(t, int) for t in s) for s in ids):
            sys.exit(f"grads_acts: {args.token_ids}: expected a JSON list of lists of token ids")
    else:
        from transformers import AutoTokenizer

        with open(args.texts, encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f if line.strip()]
        tok = AutoTokenizer.from_pretrained(args.model)
        ids = [tok(t, truncation=True, max_length=args.max_length)["input_ids"] for t in texts]
    ids = [s[: args.max_length] for s in ids if len(s) >= 2]  # a next-token loss needs two tokens
    if not ids:
        sys.exit("grads_acts: no calibration sample with at least 2 tokens")
    return ids


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=dtypes[args.dtype]).to(args.device)
    model.eval()  # no dropout: the gradient of the model as it is
    keep = re.compile(args.include) if args.include else None
    params = {n: p for n, p in model.named_parameters() if keep is None or keep.search(n)}
    for n, p in model.named_parameters():
        p.requires_grad_(n in params)
    samples = load_token_ids(args)
    n = len(samples)
    embed = model.get_input_embeddings()

    input_grad = None
    act_sums: list[torch.Tensor] | None = None
    tokens = 0
    model.zero_grad(set_to_none=True)
    for s in samples:
        ids = torch.tensor([s], device=args.device)
        x = embed(ids).detach().requires_grad_(True)
        out = model(inputs_embeds=x, labels=ids, output_hidden_states=True)
        # L = mean over texts of each text's mean token loss: backpropagate loss / n.
        (out.loss / n).backward()
        g = x.grad[0].sum(dim=0).float()  # dL/dδ for a shift δ shared by every position
        input_grad = g if input_grad is None else input_grad + g
        hs = [h[0].detach().float().sum(dim=0) for h in out.hidden_states]
        act_sums = hs if act_sums is None else [a + h for a, h in zip(act_sums, hs)]
        tokens += len(s)

    if args.grads:
        tensors = {}
        for name, p in params.items():
            if p.grad is None:  # a parameter the loss does not reach (e.g. an unused head)
                continue
            tensors[name] = p.grad.detach().to(dtypes[args.grad_dtype]).contiguous().cpu()
        tensors["input"] = input_grad.to(dtypes[args.grad_dtype]).contiguous().cpu()
        save_file(tensors, args.grads, metadata={"mergelens": "gradients", "model": args.model, "samples": str(n), "loss": "mean next-token cross-entropy"})
        print(f"grads_acts: wrote {args.grads}: {len(tensors) - 1} parameter gradients + input, {n} samples", file=sys.stderr)
    if args.acts:
        acts = {f"hidden.{l}": (a / tokens).contiguous().cpu() for l, a in enumerate(act_sums)}
        save_file(acts, args.acts, metadata={"mergelens": "activations", "model": args.model, "samples": str(n), "tokens": str(tokens)})
        print(f"grads_acts: wrote {args.acts}: {len(acts)} layers, mean over {tokens} tokens", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
