using System;
using System.IO;
using System.Reflection;
