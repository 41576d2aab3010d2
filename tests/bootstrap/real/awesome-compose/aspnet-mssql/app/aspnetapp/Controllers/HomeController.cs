using System;
using System.Collections.Generic;
using System.Diagnostics;
