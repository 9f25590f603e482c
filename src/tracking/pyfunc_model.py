"""The code of every logged segmentation model (MLflow models-from-code).

``mlflow.pyfunc.load_model`` and ``mlflow models serve`` run this file from the model's
artifacts, with the bundled ``src/`` on ``sys.path``; ``set_model`` names the object to serve.
"""

from mlflow.models import set_model

from src.tracking.serving import SegmentationPyfunc

set_model(SegmentationPyfunc())
