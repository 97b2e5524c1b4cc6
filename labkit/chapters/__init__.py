"""Chapter modules: what only one chapter needs, named after its notebook.

``course/05_finetuning.ipynb`` ↔ ``labkit.chapters.finetuning`` ↔ ``labkit.exercises.finetuning``.
Chapter modules build on labkit's concept modules (``data``, ``tokenizers``, ``models``,
``train``, ``evaluate`` ...) and never import each other; concept modules never import them.
"""
