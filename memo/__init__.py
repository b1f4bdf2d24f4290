"""memo-llm: MeMo, Memory as a Model.

Data flows one way, one package per stage:
corpus (memo.corpus) -> reflections (memo.reflect) -> memory (memo.memory) -> executive (memo.executive) -> answer;
memo.merge adds documents to an existing memory. memo.llm is the chat backend every role uses.
"""

__version__ = "0.1.0"
