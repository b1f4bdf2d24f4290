"""The memory: a small LM fine-tuned on reflections that answers questions from its weights."""
