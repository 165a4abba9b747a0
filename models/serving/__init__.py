"""What the shared server keeps beside the lessons, without TensorFlow: the class store (classroom.py), disk quotas
(quota.py), the periodic sweep of the data folder (sweep.py) and heavy work in a limited child process (apart.py).
Import from the module.
"""
