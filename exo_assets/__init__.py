"""exo-assets: Kepler / K2 / TESS light curves -> a CP / PC / FP transit classifier (see README.md)."""

import warnings

# lightkurve warns on import that its optional PRF photometry needs `oktopus`; nothing here uses it.
# Filtered once for every process (the CLI, the API and the pipeline's worker processes import this first).
warnings.filterwarnings("ignore", message=r".*tpfmodel submodule is not available without oktopus.*",
                        category=UserWarning)
