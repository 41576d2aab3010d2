import React, { useEffect, useState } from "react";
