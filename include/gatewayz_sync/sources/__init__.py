"""How a provider is reached: the registry and specs (data), auth and paging strategies, endpoints, the fetch loop."""
