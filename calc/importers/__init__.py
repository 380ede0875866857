"""Importers: real model descriptions turned into ordinary specs (`calc import`).

`calc.importers.hf`: a Hugging Face config.json (pure JSON reading, no transformers);
`calc.importers.onnx`: an ONNX file (needs the `onnx` extra).  Nothing is imported here, so that
`import calc.importers.hf` loads neither ONNX nor the other importer.
"""
