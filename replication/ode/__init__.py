"""ODE machinery shared by the experiments: NFE counting and solver calls."""
from replication.ode.counting import CountedFunction, NFECounter
from replication.ode.solve import integrate

__all__ = ["CountedFunction", "NFECounter", "integrate"]
