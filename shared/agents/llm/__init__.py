"""The language-model layer: one client per process, the agents' prompts and output schemas.

`client` talks to OpenAI or Azure OpenAI (structured outputs, no client retries, a response
cache in Blob); `prompts` builds the two agents' messages; `schemas` holds what they answer.
Every number comes from code: the model only reasons and writes, and
`shared.agents.grounding` checks what it wrote before anything is stored.
"""
