"""Keras networks: torsos, the agent network with K heads, distributions."""

from seed_stac.nets.network import AgentInput, AgentNetwork, AgentOutput
from seed_stac.nets.distributions import make_distribution_adapter
from seed_stac.nets.torsos import ConvTorso, MLPTorso, ResNetTorso

__all__ = [
    'AgentInput', 'AgentNetwork', 'AgentOutput', 'ConvTorso', 'MLPTorso', 'ResNetTorso',
    'make_distribution_adapter'
]
