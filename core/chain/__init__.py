"""The Neuralgae chain: the book, text generation, class groups and the chain's figures."""
